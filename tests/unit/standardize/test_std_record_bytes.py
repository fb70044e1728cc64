"""Every std record of the agreement test's corpus (both dialects and the third-vendor
profile, planted bad records included) is written by the serde's compiled record writer,
byte for byte what fastavro writes for the same dict."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import fastavro
import pytest
from confluent_kafka.schema_registry._sync.mock_schema_registry_client import (
    MockSchemaRegistryClient,
)
from prometheus_client import CollectorRegistry

from streamhub.core.clock import ManualClock
from streamhub.serde.avro_serde import AvroSerde, RegisteredWriter
from streamhub.standardize.metrics import StandardizeMetrics
from streamhub.standardize.model import ENTITY_MODELS, std_topic
from streamhub.standardize.pipeline import Standardizer
from streamhub.standardize.profile import load_profile
from streamhub.standardize.pseudonym import Pseudonymizer

from .simulated_envelopes import VENDORS, captured_changes, raw_message, write_connectors
from .test_plan_agreement import CHANGES, KEY, NOW, ROOT

STD_SUBJECTS = {f"{std_topic(entity)}-value" for entity in ENTITY_MODELS}


class _Recording(AvroSerde):
    """The serde, keeping every std record it is asked to encode."""

    def __init__(self) -> None:
        super().__init__(MockSchemaRegistryClient({"url": "mock://std-bytes"}))
        self.records: list[tuple[RegisteredWriter, dict[str, Any]]] = []

    def encode(self, writer: RegisteredWriter, record: Any) -> bytes:
        if writer.subject in STD_SUBJECTS:
            self.records.append((writer, record))
        return super().encode(writer, record)


@pytest.mark.parametrize("dialect", list(VENDORS))
def test_every_std_record_is_compiled_and_written_as_fastavro_writes_it(
    dialect: str, tmp_path: Path
) -> None:
    profile = load_profile(VENDORS[dialect])
    items = captured_changes(dialect, count=CHANGES, bad_fraction=0.1)
    serde = _Recording()
    write_connectors(tmp_path, items)
    batch = [raw_message(serde, item, n) for n, item in enumerate(items)]
    standardizer = Standardizer(
        serde,
        tmp_path,
        {profile.name: profile},
        Pseudonymizer(KEY),
        ROOT,
        clock=ManualClock(NOW),
        metrics=StandardizeMetrics.create(CollectorRegistry()),
    )
    for start in range(0, len(batch), 250):
        standardizer.process(batch[start : start + 250])
    entities = set()
    for writer, record in serde.records:
        assert writer.compiled is not None, writer.subject
        written = writer.compiled.write(record)  # raises where fastavro would have to judge
        reference = io.BytesIO()
        fastavro.schemaless_writer(reference, writer.parsed, record)
        assert written == reference.getvalue(), record["record_id"]
        entities.add(writer.subject)
    assert len(serde.records) >= len(items) * 0.8
    assert len(entities) >= 5  # the vendor's entities, not one of them
