"""`topics apply` creates, updates and then leaves the cluster alone."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from confluent_kafka.admin import AdminClient

from streamhub.catalog.apply import apply_topics
from streamhub.catalog.load import load_catalog
from streamhub.catalog.model import TopicSpec
from streamhub.config import Settings


@pytest.fixture
def renamed_catalog(
    settings: Settings, admin: AdminClient, unique: Callable[[str], str]
) -> Iterator[list[TopicSpec]]:
    prefix = unique("apply")
    specs = [
        s.model_copy(update={"name": f"{prefix}.{s.name}"})
        for s in load_catalog(settings.project_dir / "topics")[:3]
    ]
    yield specs
    for future in admin.delete_topics([s.name for s in specs]).values():
        future.result(30)


def test_apply_creates_then_reports_no_change(
    admin: AdminClient, renamed_catalog: list[TopicSpec]
) -> None:
    first = apply_topics(admin, renamed_catalog)
    assert [c.split(":")[0] for c in first.changes] == [f"create {s.name}" for s in renamed_catalog]
    second = apply_topics(admin, renamed_catalog)
    assert second.changes == [] and second.unchanged == len(renamed_catalog)


def test_apply_updates_partitions_and_configs_and_reports_drift(
    admin: AdminClient, renamed_catalog: list[TopicSpec]
) -> None:
    apply_topics(admin, renamed_catalog)
    grown = renamed_catalog[0].model_copy(
        update={"partitions": renamed_catalog[0].partitions + 2, "retention_ms": 3600000}
    )
    report = apply_topics(admin, [grown])
    assert any(c.startswith(f"partitions {grown.name}") for c in report.changes)
    assert f"config {grown.name}: retention.ms " in " ".join(report.changes)
    assert apply_topics(admin, [grown]).changes == []
    shrunk = grown.model_copy(update={"partitions": 1})
    assert "cannot remove partitions" in apply_topics(admin, [shrunk]).drift[0]


def test_cli_apply_twice_second_run_says_no_change(settings: Settings) -> None:
    def run() -> str:
        done = subprocess.run(
            [sys.executable, "-m", "streamhub", "topics", "apply"],
            capture_output=True,
            text=True,
            check=False,
            cwd=settings.project_dir,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    run()
    second = run()
    assert second.strip().splitlines()[-1] == "no change"
