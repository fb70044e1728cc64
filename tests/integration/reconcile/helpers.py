"""The pipeline harness plus the reconcile app, the lander's fault hook, and an unmapped table.

Adapted by subclassing tests/integration/pipeline/harness.py (not edited): the reconcile
app runs as a subprocess like the other workers, with its own group; the lander can be
started with ``STREAMHUB_FAULT_DROP_VERSIONS`` and restarted without it.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.config import Settings
from streamhub.core.topic_names import RECONCILIATION
from streamhub.land.drill import FAULT_DROP_ENV
from streamhub.reconcile.result import Result
from streamhub.reconcile.totals import latest_per_window
from streamhub.serde.avro_serde import AvroSerde
from streamhub.stack.postgres import Postgres

from ..pipeline.harness import Pipeline

UNMAPPED_TABLE = "visitor_notes"  # no profile maps it: every change is dead-lettered


@dataclass
class ReconcilePipeline(Pipeline):
    drop_every: int = 0  # the lander's fault hook, 0: off
    reconcile_args: list[str] = field(default_factory=list)

    @property
    def reconcile_group(self) -> str:
        return f"test-reconcile-{self.tag}"

    def env(self) -> dict[str, str]:
        env = super().env()
        env["STREAMHUB_RECONCILE_GROUP"] = self.reconcile_group
        # the in-test capture agent's group: `diff --repair` signals it on its topic
        env["STREAMHUB_CAPTURE_GROUP"] = self.settings.capture_group
        env["STREAMHUB_CAPTURE_POSITIONS_TOPIC"] = self.settings.capture_positions_topic
        env.pop(FAULT_DROP_ENV, None)
        return env

    def start(self, name: str) -> None:
        if name == "standardize":
            super().start(name)
            return
        command = {"land": ["land"], "reconcile": ["reconcile", "run", *self.reconcile_args]}
        env = self.env()
        if name == "land" and self.drop_every:
            env[FAULT_DROP_ENV] = str(self.drop_every)
        log = (self.workdir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "streamhub", "--log-level", "info", *command[name]],
            env=env,
            cwd=self.settings.project_dir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def results(self, prefix: str) -> list[Result]:
        """The latest published verdict of every window of this run's databases."""
        serde = AvroSerde(SchemaRegistryClient({"url": self.settings.registry_url}))
        decoded = [
            Result.from_avro(serde.decode(v).value) for _, _, v in self.read([RECONCILIATION])
        ]
        return latest_per_window(r for r in decoded if r.database.startswith(f"{prefix}_"))


def add_unmapped_table(settings: Settings, connector_file: Path, database: str) -> None:
    """A table the connector captures but no profile maps (PostgreSQL)."""
    with contextlib.closing(Postgres(settings).connect(database)) as conn:
        with conn.cursor() as cur:
            cur.execute(f"CREATE TABLE public.{UNMAPPED_TABLE} (id int PRIMARY KEY, note text)")
        conn.commit()
    path = connector_file
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["tables"].append(f"public.{UNMAPPED_TABLE}")
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")


def write_unmapped_rows(settings: Settings, database: str, ids: range) -> None:
    with contextlib.closing(Postgres(settings).connect(database)) as conn:
        with conn.cursor() as cur:
            for i in ids:
                cur.execute(f"INSERT INTO public.{UNMAPPED_TABLE} VALUES (%s, %s)", (i, "visit"))
        conn.commit()


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]
