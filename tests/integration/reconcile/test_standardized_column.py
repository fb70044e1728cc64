"""The reconciliation's "standardized" column counts what reached std.* (issue 15, item 6).

It always showed 0: the reconciler had a standardized stage but nothing fed it. The
standardizer now publishes ops.standardized_counts per batch (the landed counts' shape, with
version ids), and the reconciler folds them in. Real registry; the counts go through the
same Avro encoding and Feed the live app uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from confluent_kafka.schema_registry import SchemaRegistryClient
from prometheus_client import CollectorRegistry

from streamhub.config import Settings
from streamhub.core.clock import ManualClock
from streamhub.core.topic_names import DLQ_STANDARDIZE, STANDARDIZED_COUNTS
from streamhub.reconcile.feed import Feed
from streamhub.reconcile.inputs import source_from_avro
from streamhub.reconcile.metrics import ReconcileMetrics
from streamhub.reconcile.reconciler import Reconciler, ReconcileSettings
from streamhub.reconcile.report import row
from streamhub.reconcile.result import Status
from streamhub.serde.avro_serde import AvroSerde
from streamhub.standardize.pipeline import Standardizer
from streamhub.standardize.profile import load_profiles

from ..standardize.test_standardizer import (
    GOOD_ID,
    INSTITUTION,
    KEY,
    _connector,
    _event,
    _message,
    _row,
    _table,
)

COMMIT_MS = 1_772_420_000_000  # the events' commit times are this plus their sequence
WINDOW = COMMIT_MS - COMMIT_MS % 60_000


def test_standardized_counts_reach_the_reconciliation_result(
    settings: Settings, tmp_path: Path, unique: Any
) -> None:
    serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
    now = [COMMIT_MS / 1000 + 1]
    config = _connector(tmp_path, unique("std").replace("_", "-"))
    table = _table(unique("db").replace("-", "_"))
    standardizer = Standardizer(
        serde,
        tmp_path,
        load_profiles(settings.profiles_path),
        KEY,
        settings.project_dir,
        clock=ManualClock(now[0]),
        counts_topic=STANDARDIZED_COUNTS,
    )
    batch = [
        _message(serde, config, _event(table, "c", _row("P1", GOOD_ID), 1), 10),
        _message(serde, config, _event(table, "c", _row("P2", GOOD_ID), 2), 11),
        _message(serde, config, _event(table, "u", _row("P1", GOOD_ID), 3), 12),
        _message(serde, config, _event(table, "d", _row("P2", GOOD_ID), 4), 13),
    ]
    out = standardizer.process(batch)
    # the same batch again (a replay after a crash): counted once, by version
    out += standardizer.process(batch)
    assert not [m for m in out if m.topic == DLQ_STANDARDIZE]
    counts = [m for m in out if m.topic == STANDARDIZED_COUNTS]
    assert len(counts) == 2  # one per (table, minute, entity) per batch

    reconciler = Reconciler(ReconcileSettings(grace_ms=1_000), ManualClock(now[0]))
    feed = Feed(reconciler, serde, ReconcileMetrics.create(CollectorRegistry()))
    reconciler.apply_source(source_from_avro({
        "connector": config.name, "institution_id": INSTITUTION, "system": "his",
        "database": table.database, "table": "GY_BRXX", "window_start_ms": WINDOW,
        "window_ms": 60_000, "inserts": 2, "updates": 1, "deletes": 1, "snapshot_reads": 0,
        "row_count": None, "row_count_position": None, "emitted_ts_ms": WINDOW + 65_000,
    }))  # fmt: skip
    for message in counts:
        decoded = feed.decode(message.topic, 0, 0, message.value)
        assert decoded is not None
        assert feed.apply(message.topic, decoded) == "applied"

    [result] = reconciler.preview(WINDOW + 10 * 60_000)
    assert result.source_changes == 4
    assert result.standardized == 4  # was always 0
    # nothing landed: the gap is placed after the standardizer, not before it
    assert result.status is Status.MISSING and result.landed == 0
    assert result.detail is not None
    assert "4 standardized but not landed: lander lag or stuck" in result.detail
    # the operator's table (`streamhub reconcile show`, the console's column) shows it
    assert row(result)[3] == "4"
