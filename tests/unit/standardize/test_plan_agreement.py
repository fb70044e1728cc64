"""The hot path (compiled mapping plan -> plain-dict std records) and the canonical pydantic
models agree, on every entity of both dialects and the third-vendor profile.

The same raw envelopes (made as the capture agent makes them, from the simulator's workload,
with its planted bad records and ours: unknown codes, unparsable dates, bad amounts, missing
keys) go through the standardizer twice: as it runs, and with every std record built through
its pydantic model (``check_with_model=True``, the reference). Every output (std record,
quality event, dead letter) must be the same bytes. And the plan must type every value
exactly as the model keeps it: no record of these inputs may need the model's coercion
(``fallbacks`` stays 0), so a plan step that drifts (an int where the model wants a float, a
string for a decimal) fails here even where the model would have repaired it silently.

Values the model refuses (a literal out of its set, a field it does not have, a NaN amount,
text for a number) and values it coerces are planted into the pseudonymizer's output: the
hot path must dead-letter what the model refuses, with the same reason, and coerce the rest
the model's way.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import fastavro
import pytest
from confluent_kafka.schema_registry._sync.mock_schema_registry_client import (
    MockSchemaRegistryClient,
)
from prometheus_client import CollectorRegistry

from streamhub.capture.envelope import avro_name
from streamhub.core.clock import ManualClock
from streamhub.serde.avro_serde import AvroSerde
from streamhub.standardize.messages import OutMessage, RawMessage
from streamhub.standardize.metrics import StandardizeMetrics
from streamhub.standardize.model import ENTITY_MODELS, std_topic
from streamhub.standardize.pipeline import Standardizer
from streamhub.standardize.profile import Profile, load_profile, target_type
from streamhub.standardize.pseudonym import Pseudonymizer
from streamhub.standardize.record_builder import RecordBuilder

from .simulated_envelopes import VENDORS, Captured, captured_changes, raw_message, write_connectors

ROOT = Path(__file__).resolve().parents[3]
KEY = b"agreement-test-key-of-16-bytes"
NOW = 1_772_420_100.0
STD_TOPICS = {std_topic(entity) for entity in ENTITY_MODELS}
CHANGES = 900  # per vendor: enough for every entity, with updates and deletes


def _plant(profile: Profile, item: Captured, kind: str) -> Captured | None:
    """``item`` with one bad value of ``kind`` in its row, where its table has a column for it."""
    event = item.event
    if event.after is None:
        return None
    mapping = profile.table(event.table.name)
    kinds = {avro_name(c.name): c.kind for c in event.table.columns}
    row = dict(event.after)
    for target, spec in mapping.fields.items():
        column = spec.source
        # text in the envelope (decimals travel as text too)
        if column is None or kinds.get(avro_name(column)) not in ("string", "decimal"):
            continue
        if column not in row:
            continue
        kind_of = target_type(mapping.entity, target)
        if kind == "unknown_code" and spec.crosswalk and not spec.pass_unmapped:
            row[column] = "不存在的代码"
        elif kind == "unparsable_date" and kind_of in (datetime, date):
            row[column] = "2026-13-45 99:99"
        elif kind == "bad_amount" and kind_of in (Decimal, int, float):
            row[column] = "12.3.4元"
        else:
            continue
        return replace(item, event=replace(event, after=row))
    if kind == "missing_key":
        key = mapping.fields[mapping.key_field].source
        if key is not None and key in row:
            row[key] = None
            return replace(item, event=replace(event, after=row))
    return None


Plant = Callable[[dict[str, object]], None]
# (entity, key field, its clear mapped value) -> what to do to that record's protected values
Plants = dict[tuple[str, str, object], Plant]


class _Planting(Pseudonymizer):
    """A pseudonymizer whose output carries planted values for chosen rows: what a drifting
    plan would hand on (the model refuses or coerces them)."""

    def __init__(self, plants: Plants) -> None:
        super().__init__(KEY)
        self.plants = plants
        self.fired: Counter[tuple[str, str, object]] = Counter()

    def protect(
        self,
        entity: str,
        values: Mapping[str, object],
        at: datetime | None,
        *,
        institution_id: str | None = None,
    ) -> dict[str, object]:
        out = super().protect(entity, values, at, institution_id=institution_id)
        for (planted_entity, field, key), plant in self.plants.items():
            if planted_entity == entity and values.get(field) == key:
                plant(out)
                self.fired[(planted_entity, field, key)] += 1
        return out


def _set(field: str, value: object) -> Plant:
    def plant(values: dict[str, object]) -> None:
        values[field] = value

    return plant


# entity -> (what the model refuses, what it coerces) among the entity's own fields
REFUSED: dict[str, Plant] = {
    "encounter": _set("encounter_type", "alien"),
    "charge": _set("amount", Decimal("NaN")),
    "order": _set("line_no", "3x"),
    "lab_result": _set("surname", None),  # a field the model does not have
    "patient": _set("sex_code", 2),
    "diagnosis": _set("seq", 1.5),
}
COERCED: dict[str, Plant] = {
    "lab_result": _set("value_num", 7),  # int -> 7.0
    "order": _set("line_no", 2.0),  # whole float -> 2
    "charge": _set("is_drug", 1),  # 1 -> True
    "encounter": _set("admission_count", True),  # bool -> 1
}


@pytest.fixture(scope="module")
def vendors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Profile, list[Captured]]]:
    out = {}
    for dialect, path in VENDORS.items():
        profile = load_profile(path)
        out[profile.name] = (profile, captured_changes(dialect, count=CHANGES, bad_fraction=0.1))
    return out


def _run(
    directory: Path, profile: Profile, items: list[Captured], pseudonymizer: Pseudonymizer
) -> tuple[list[OutMessage], list[OutMessage], Standardizer, AvroSerde]:
    serde = AvroSerde(MockSchemaRegistryClient({"url": "mock://agreement"}))
    write_connectors(directory, items)
    batch: list[RawMessage] = [raw_message(serde, item, n) for n, item in enumerate(items)]
    profiles = {profile.name: profile}

    def standardizer(check_with_model: bool) -> Standardizer:
        return Standardizer(
            serde,
            directory,
            profiles,
            pseudonymizer,
            ROOT,
            clock=ManualClock(NOW),
            metrics=StandardizeMetrics.create(CollectorRegistry()),
            check_with_model=check_with_model,
        )

    hot = standardizer(False)
    reference = standardizer(True)
    out_hot = [m for start in range(0, len(batch), 250) for m in hot.process(batch[start:][:250])]
    out_ref = [
        m for start in range(0, len(batch), 250) for m in reference.process(batch[start:][:250])
    ]
    return out_hot, out_ref, hot, serde


def _same(hot: list[OutMessage], reference: list[OutMessage], serde: AvroSerde) -> None:
    assert [m.topic for m in hot] == [m.topic for m in reference]
    for mine, model in zip(hot, reference, strict=True):
        if mine != model:  # show the decoded difference
            assert (mine.topic, mine.key, serde.decode(mine.value).value) == (
                model.topic,
                model.key,
                serde.decode(model.value).value,
            )
        assert mine == model


@pytest.mark.parametrize("vendor", ["english_pg", "pinyin_gbk", "ws_elements_pg"])
def test_the_hot_path_writes_what_the_model_writes_and_types_everything_itself(
    vendor: str, vendors: dict[str, tuple[Profile, list[Captured]]], tmp_path: Path
) -> None:
    profile, captured = vendors[vendor]
    items = list(captured)
    planted: Counter[str] = Counter()
    for kind in ("unknown_code", "unparsable_date", "bad_amount", "missing_key"):
        for item in captured[::7]:
            if planted[kind] < 6 and (bad := _plant(profile, item, kind)) is not None:
                items.append(bad)
                planted[kind] += 1
    assert planted["unknown_code"] and planted["missing_key"], planted
    assert planted["bad_amount"] + planted["unparsable_date"], planted

    hot, reference, standardizer, serde = _run(tmp_path, profile, items, Pseudonymizer(KEY))
    _same(hot, reference, serde)
    topics = Counter(m.topic for m in hot)
    assert set(topics) >= STD_TOPICS | {"ops.quality", "dlq.standardize"}, topics
    # the plan typed every value as the model keeps it: the model repaired nothing
    assert standardizer.fallbacks == 0
    # the serde's named union branches write what fastavro's own resolution writes
    for message in hot:
        if message.topic in STD_TOPICS:
            decoded = serde.decode(message.value)
            plain = io.BytesIO()
            fastavro.schemaless_writer(plain, serde.writer_schema(decoded.schema_id), decoded.value)
            assert message.value[5:] == plain.getvalue()
    letters = [serde.decode(m.value).value for m in hot if m.topic == "dlq.standardize"]
    assert {letter["error_type"] for letter in letters} == {"MappingError"}
    assert len(letters) == planted["missing_key"]


@pytest.mark.parametrize("vendor", ["english_pg", "pinyin_gbk", "ws_elements_pg"])
def test_what_the_model_refuses_is_dead_lettered_and_what_it_coerces_is_coerced(
    vendor: str,
    vendors: dict[str, tuple[Profile, list[Captured]]],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    profile, captured = vendors[vendor]
    plants: Plants = {}
    refused: set[str] = set()
    coerced: set[str] = set()
    refused_plants: set[tuple[str, str, object]] = set()
    for item in captured:
        if item.event.op != "c" or item.event.after is None:
            continue
        mapping = profile.table(item.event.table.name)
        key_column = mapping.fields[mapping.key_field].source
        key = item.event.after.get(key_column or "")
        if key is None:
            continue
        # the key's mapped (clear) value: text, as the plan gives it
        clear = str(key).strip()
        if mapping.entity in REFUSED and mapping.entity not in refused:
            plants[(mapping.entity, mapping.key_field, clear)] = REFUSED[mapping.entity]
            refused.add(mapping.entity)
            refused_plants.add((mapping.entity, mapping.key_field, clear))
        elif mapping.entity in COERCED and mapping.entity not in coerced:
            plants[(mapping.entity, mapping.key_field, clear)] = COERCED[mapping.entity]
            coerced.add(mapping.entity)
    assert refused == set(REFUSED) and coerced == set(COERCED)

    planting = _Planting(plants)
    hot, reference, standardizer, serde = _run(tmp_path, profile, captured, planting)
    _same(hot, reference, serde)
    # a planted row's every change (its insert and later updates) carries the plant; the hot
    # path and the reference each planted them once
    fired = {plant: count // 2 for plant, count in planting.fired.items()}
    assert set(fired) == set(plants)
    letters = [serde.decode(m.value).value for m in hot if m.topic == "dlq.standardize"]
    refusals = [letter for letter in letters if "model refuses" in letter["reason"]]
    assert len(refusals) == sum(n for plant, n in fired.items() if plant in refused_plants)
    assert {letter["error_type"] for letter in refusals} == {"StandardizeError"}
    # the model judged exactly the planted records, nothing else; the log says so once each
    assert standardizer.fallbacks == sum(fired.values())
    said = [r for r in caplog.records if "built through the pydantic model" in r.getMessage()]
    assert sorted(r.entity for r in said) == sorted(set(REFUSED) | set(COERCED))  # type: ignore[attr-defined]
    decoded = [serde.decode(m.value).value for m in hot if m.topic == "std.lab_result"]
    assert any(isinstance(r["value_num"], float) and r["value_num"] == 7.0 for r in decoded)


def test_the_builder_knows_every_constraint_of_the_models() -> None:
    """What the builder checks itself, per model: its literals, decimals and nullability; a
    model with a validator, serializer or a required own field is left to the model whole."""
    for entity, model in ENTITY_MODELS.items():
        builder = RecordBuilder(model)
        assert builder._trusted, entity  # the models today: types only
        for name, info in model.model_fields.items():
            assert not info.metadata, f"{entity}.{name}: a constraint the builder must learn"
    literals = RecordBuilder(ENTITY_MODELS["encounter"])._own.literals
    assert literals == {"encounter_type": frozenset({"outpatient", "emergency", "inpatient"})}


def test_a_quality_event_and_a_dead_letter_name_no_clear_value_of_the_planted_rows(
    vendors: dict[str, tuple[Profile, list[Captured]]], tmp_path: Path
) -> None:
    """Refusal reasons carry the model's error types and places, not the values."""
    profile, captured = vendors["pinyin_gbk"]
    item = next(c for c in captured if c.entity == "registration" and c.event.op == "c")
    mapping = profile.table(item.event.table.name)
    key = str(item.event.after[mapping.fields[mapping.key_field].source]).strip()  # type: ignore[index]
    secret = "李雷的身份证号"
    plants = {("encounter", mapping.key_field, key): _set("encounter_type", secret)}
    hot, _, _, serde = _run(tmp_path, profile, [item], _Planting(plants))
    (letter,) = [serde.decode(m.value).value for m in hot if m.topic == "dlq.standardize"]
    assert "encounter_type" in letter["reason"] and secret not in json.dumps(
        letter["reason"], ensure_ascii=False
    )
