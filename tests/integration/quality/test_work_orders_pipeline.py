"""Work orders through the whole pipeline (issue 22): bad records made at the source, captured,
standardized and landed, open an order for exactly their institution and rule; the notices
reach a local SMTP sink and webhook; UPDATEs correcting the rows in the source database flow
through capture -> standardize -> land, and the next evaluation closes the order with the
corrected versions as evidence.

Two simulated institutions on PostgreSQL (a hospital and a clinic, seeded state only, no
workload). The hospital's patients get their name emptied (the `required` rule) by UPDATEs
before capture starts; the clinic stays clean. The evaluations run as `streamhub quality
orders evaluate` subprocesses on the lander's embedded ClickHouse while the lander is stopped
(one process per chDB). The escalation with an injected clock is test_work_orders.py's.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from datetime import datetime
from pathlib import Path

from streamhub.config import Settings
from streamhub.kafka.groups import committed_lags, topic_ends
from streamhub.simulate.runner import Simulation, SimulationOptions
from streamhub.simulate.sources import open_sources
from streamhub.stack.postgres import Postgres

from ..capture.conftest import capture_settings, catalog_topics
from ..capture.helpers import captured, wait_until
from ..capture.helpers import write_connector_files as write_connectors
from ..pipeline.harness import LANDED_TOPICS, RAW_TOPICS, Pipeline, capture_caught_up
from .sinks import smtp_sink, webhook_receiver

__all__ = ["capture_settings", "catalog_topics"]

START = datetime(2026, 3, 2, 8, 30)
BAD = 6  # patients of the hospital whose name is emptied


def _names(
    settings: Settings, database: str, table: str, key: str, column: str
) -> list[tuple[int, str]]:
    with contextlib.closing(Postgres(settings).connect(database)) as conn:
        cur = conn.cursor()
        cur.execute(f'SELECT "{key}", "{column}" FROM "{table}" ORDER BY "{key}" LIMIT {BAD}')
        return [(int(k), str(v)) for k, v in cur.fetchall()]


def _set_names(
    settings: Settings,
    database: str,
    table: str,
    key: str,
    column: str,
    values: list[tuple[int, str | None]],
) -> None:
    with contextlib.closing(Postgres(settings).connect(database)) as conn:
        cur = conn.cursor()
        for k, value in values:
            cur.execute(f'UPDATE "{table}" SET "{column}" = %s WHERE "{key}" = %s', (value, k))
        conn.commit()


def _consumed_past(pipeline: Pipeline, group: str, topics: list[str], timeout_s: float) -> bool:
    """``group`` has committed past where ``topics`` end now. (Not "drained": other tests
    may be writing to the same topics meanwhile.)"""
    marks = topic_ends(pipeline.settings, topics)

    def past() -> bool:
        lags = committed_lags(pipeline.settings.kafka_bootstrap, group, topics)
        return all(lag.next_offset >= marks.get((lag.topic, lag.partition), 0) for lag in lags)

    return wait_until(past, timeout_s, every_s=1)


def _landed(pipeline: Pipeline) -> None:
    """What capture has written so far is standardized and landed."""
    assert _consumed_past(pipeline, pipeline.standardize_group, RAW_TOPICS, 120), pipeline.log_tail(
        "standardize"
    )
    assert _consumed_past(pipeline, pipeline.lander_group, LANDED_TOPICS, 120), pipeline.log_tail(
        "land"
    )


def test_source_corrections_close_the_order_after_they_land(
    capture_settings: Settings, tmp_path: Path
) -> None:
    settings = capture_settings
    prefix = f"wo{uuid.uuid4().hex[:6]}"
    options = SimulationOptions(
        start=START, seed=22, hospitals=1, clinics=1, dialects=("english_pg",),
        rate=10.0, duration_s=1.0, warm_up=False, db_prefix=prefix,
    )  # fmt: skip
    simulation = Simulation(settings, options, tmp_path / "ledger.json")
    connectors_dir = tmp_path / "connectors"
    connectors_dir.mkdir()
    pipeline = Pipeline(settings, tmp_path, connectors_dir, uuid.uuid4().hex[:8])
    hospital, clinic = simulation.institutions
    spec = simulation.dialects[hospital.dialect].tables["patient"]
    column = next(c for c, col in spec.columns.items() if col.field == "name")
    where = (hospital.database(prefix, spec.system), spec.name, spec.primary_key, column)
    try:
        simulation.setup()
        original = _names(settings, *where)
        assert len(original) == BAD
        _set_names(settings, *where, [(k, None) for k, _ in original])  # planted at the source
        connectors = write_connectors(settings, simulation, connectors_dir, row_count_s=600)
        pipeline.pin_groups_to_end()
        assert pipeline.streamhub("clickhouse", "migrate").returncode == 0
        pipeline.start("standardize")
        pipeline.start("land")
        with smtp_sink() as (port, mailbox), webhook_receiver() as (url, hooks):
            config = tmp_path / "orders.json"
            config.write_text(
                json.dumps(
                    {
                        # the seeded rows are committed now with business times months back:
                        # late entry by construction, not what this test plants
                        "disabled_rules": ["entered_late", "landed_late"],
                        "window_s": 1100 * 86_400,  # seeded patients: up to a year before START
                        # other tests may be landing beside this one
                        "institutions": [hospital.credit_code, clinic.credit_code],
                        "levels": {
                            "warning": {"min_rate": 0.001, "min_count": 3, "deadline_s": 86_400}
                        },
                        "smtp": {"host": "127.0.0.1", "port": port, "to": ["qc@example.org"]},
                        "webhook": {"url": url},
                    }
                )
            )

            def evaluate() -> str:
                done = pipeline.streamhub("quality", "orders", "evaluate", "--config", str(config))
                assert done.returncode == 0, done.stdout + done.stderr
                return done.stdout

            with captured(settings, connectors):
                assert capture_caught_up(pipeline, connectors, 120) == []
                _landed(pipeline)
                pipeline.stop("land")
                first = evaluate()
                opened = re.findall(r"opened (WO-\S+): (\S+) (\S+) (\S+) (\d+)", first)
                assert [(inst, rule, int(n)) for _, inst, _, rule, n in opened] == [
                    (hospital.credit_code, "required", BAD)
                ], first  # none for the clean clinic, none for other rules
                ((order_id, *_),) = opened
                assert len(mailbox.messages) == 1 and len(hooks.bodies) == 1
                assert hooks.bodies[0]["institution_id"] == hospital.credit_code
                assert clinic.credit_code not in first

                # the institution corrects the rows at the source
                _set_names(settings, *where, list(original))
                assert capture_caught_up(pipeline, connectors, 120) == []
                pipeline.start("land")
                _landed(pipeline)
                pipeline.stop("land")
            second = evaluate()
            assert f"closed {order_id}" in second, second
            assert hooks.bodies[-1]["event"] == "closed" and len(mailbox.messages) == 2
        shown = pipeline.streamhub("quality", "orders", "show", order_id)
        assert shown.returncode == 0, shown.stderr
        assert f"all {BAD} offending records re-landed" in shown.stdout
        assert shown.stdout.count(" passing") == BAD
        assert "open -> closed" in shown.stdout
        listed = pipeline.streamhub("quality", "orders", "list", "--state", "closed")
        assert order_id in listed.stdout and "1 work order(s)" in listed.stdout
    finally:
        pipeline.stop_all()
        for inst in simulation.institutions:
            source = open_sources(settings, inst.engine)
            try:
                for system in inst.systems:
                    source.drop(inst.database(prefix, system))
            finally:
                source.close()
