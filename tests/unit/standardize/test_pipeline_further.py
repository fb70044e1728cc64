"""A change feeding several entities (a profile's ``also``) is standardized whole or not at all:
when one of its records fails, the change is one dead letter, and none of its records is
sent, counted in ops.standardized_counts or in the records metric."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka.schema_registry._sync.mock_schema_registry_client import (
    MockSchemaRegistryClient,
)
from prometheus_client import CollectorRegistry

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.envelope import envelope, envelope_schema, message_key, subject
from streamhub.capture.model import ColumnInfo, RowEvent, TableInfo
from streamhub.core.clock import ManualClock
from streamhub.serde.avro_serde import AvroSerde
from streamhub.standardize.messages import RawMessage
from streamhub.standardize.metrics import StandardizeMetrics
from streamhub.standardize.pipeline import Standardizer
from streamhub.standardize.profile import load_profile
from streamhub.standardize.pseudonym import Pseudonymizer

ROOT = Path(__file__).resolve().parents[3]
WIDE = ROOT / "tests" / "data" / "third_vendor" / "wide_mariadb.yaml"
COUNTS = "ops.standardized_counts"
ROW = {
    "MZHM": "M0001", "GHSJ": "20260302083000", "BRID": "B001", "JZLX": "MZ", "KSDM": "K0301",
    "ZDDM": "J06.9", "ZDMC": "急性上呼吸道感染", "ZFBZ": "0", "ZDZF": "0",
}  # fmt: skip


class _RefusedDiagnosis(Pseudonymizer):
    """Hands on a diagnosis the model refuses (what a drifting plan would do)."""

    def protect(
        self,
        entity: str,
        values: Mapping[str, object],
        at: datetime | None,
        *,
        institution_id: str | None = None,
    ) -> dict[str, object]:
        out = super().protect(entity, values, at, institution_id=institution_id)
        if entity == "diagnosis":
            out["seq"] = "first"
        return out


def _standardize(tmp_path: Path, pseudonymizer: Pseudonymizer) -> tuple[list[str], list[Any]]:
    profile = load_profile(WIDE)
    document: dict[str, Any] = {
        "name": "wide-his",
        "institution_id": "123502001549897397",
        "system": "his",
        "engine": "mariadb",
        "profile": profile.name,
        "encoding": "gb18030",
        "connection": {"port": 33306, "database": "h_his", "user": "x", "password_env": "U"},
        "tables": ["门诊挂号"],
        "mysql": {"server_id": 4343},
    }
    (tmp_path / "wide-his.yaml").write_text(yaml.safe_dump(document, allow_unicode=True))
    config = ConnectorConfig.model_validate(document)
    columns = tuple(
        ColumnInfo(name, "varchar(40)", "string", key=name in ("MZHM", "GHSJ")) for name in ROW
    )
    table = TableInfo("h_his", None, "门诊挂号", columns)
    event = RowEvent(table, "c", None, dict(ROW), "0-1-7", 7 << 20, None, 1_772_420_000_000)
    serde = AvroSerde(MockSchemaRegistryClient({"url": "mock://further"}))
    writer = serde.register(subject(config, table), envelope_schema(config, table))
    value = serde.encode(writer, envelope(config, event, 1_772_420_000_000))
    message = RawMessage("cdc.raw.his", 0, 7, message_key(config, event), value, 0)
    metrics = StandardizeMetrics.create(CollectorRegistry())
    standardizer = Standardizer(
        serde,
        tmp_path,
        {profile.name: profile},
        pseudonymizer,
        ROOT,
        clock=ManualClock(1_772_420_100.0),
        counts_topic=COUNTS,
        metrics=metrics,
    )
    out = standardizer.process([message])
    outcomes = [
        (s.labels["entity"], s.labels["outcome"], s.value)
        for metric in metrics.records.collect()
        for s in metric.samples
        if s.name.endswith("_total")
    ]
    return [m.topic for m in out], outcomes


def test_a_change_feeding_two_entities_gives_both_and_counts_once(tmp_path: Path) -> None:
    topics, outcomes = _standardize(tmp_path, Pseudonymizer(b"further-key-of-16-bytes+"))
    assert [t for t in topics if t.startswith("std.")] == ["std.encounter", "std.diagnosis"]
    assert topics.count(COUNTS) == 2  # a window per entity (the change counted by its first)
    assert sorted((entity, count) for entity, _, count in outcomes) == [
        ("diagnosis", 1.0),
        ("encounter", 1.0),
    ]


def test_a_failing_further_record_dead_letters_the_change_and_counts_none_of_it(
    tmp_path: Path,
) -> None:
    topics, outcomes = _standardize(tmp_path, _RefusedDiagnosis(b"further-key-of-16-bytes+"))
    assert topics == ["dlq.standardize"]  # no std record, no standardized count
    assert outcomes == [("unknown", "dead_letter", 1.0)]
