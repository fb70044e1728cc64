"""The standardizer parses a row's message key once while the row is recent: a further change
of the same row reuses its canonical key, with the same outputs, and the memory is bounded."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka.schema_registry._sync.mock_schema_registry_client import (
    MockSchemaRegistryClient,
)
from prometheus_client import CollectorRegistry

from streamhub.core.clock import ManualClock
from streamhub.serde.avro_serde import AvroSerde
from streamhub.standardize import pipeline
from streamhub.standardize.messages import OutMessage, RawMessage
from streamhub.standardize.metrics import StandardizeMetrics
from streamhub.standardize.pipeline import Standardizer
from streamhub.standardize.profile import load_profile
from streamhub.standardize.pseudonym import Pseudonymizer

from .simulated_envelopes import VENDORS, captured_changes, raw_message, write_connectors
from .test_plan_agreement import KEY, NOW, ROOT

PARSE = pipeline._source_key


def _run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[OutMessage], Counter[bytes | None], list[RawMessage], Standardizer]:
    dialect = "english_pg"
    profile = load_profile(VENDORS[dialect])
    items = captured_changes(dialect, count=300, bad_fraction=0.05)
    serde = AvroSerde(MockSchemaRegistryClient({"url": "mock://source-keys"}))
    write_connectors(tmp_path, items)
    batch = [raw_message(serde, item, n) for n, item in enumerate(items)]
    parsed: Counter[bytes | None] = Counter()

    def counting(message: RawMessage) -> str:
        parsed[message.key] += 1
        return PARSE(message)

    monkeypatch.setattr(pipeline, "_source_key", counting)
    standardizer = Standardizer(
        serde,
        tmp_path,
        {profile.name: profile},
        Pseudonymizer(KEY),
        ROOT,
        clock=ManualClock(NOW),
        metrics=StandardizeMetrics.create(CollectorRegistry()),
    )
    out = [
        m
        for start in range(0, len(batch), 100)
        for m in standardizer.process(batch[start : start + 100])
    ]
    return out, parsed, batch, standardizer


def test_a_rows_key_is_parsed_once_and_the_outputs_are_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, parsed, batch, _ = _run(tmp_path / "cached", monkeypatch)
    repeated = Counter(m.key for m in batch)
    assert any(n > 1 for n in repeated.values())  # rows changed more than once
    assert all(n == 1 for n in parsed.values())
    monkeypatch.setattr(pipeline, "SOURCE_KEYS_MAX", 1)  # remembers nothing for long
    again, parsed_again, _, standardizer = _run(tmp_path / "uncached", monkeypatch)
    assert again == out
    assert len(standardizer._source_keys) <= 1
    assert sum(parsed_again.values()) > sum(parsed.values())
