"""The committed std.* schemas equal the model, carry category/level/DE ids, round-trip through
fastavro, and the catalog documents one topic per entity."""

from __future__ import annotations

import io
import json
import types
import typing
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastavro
import pytest
from click.testing import CliRunner

from streamhub.catalog.load import load_catalog
from streamhub.cli.main import cli
from streamhub.standardize.avro_schema import (
    schema_path,
    stale_std_schemas,
    std_schema,
    write_std_schemas,
)
from streamhub.standardize.model import CLEAR_FIELDS, ENTITY_MODELS, StdRecord, field_meta
from streamhub.standardize.pseudonym import Pseudonymizer

ROOT = Path(__file__).resolve().parents[3]
CATEGORIES = {"个人属性", "健康状况", "医疗应用", "医疗支付", "卫生资源", "公共卫生"}
# DOMAIN.md's data elements and the canonical fields they tag
DATA_ELEMENTS = {
    ("patient", "sex_code"): "DE02.01.040.00",
    ("patient", "id_type"): "DE02.01.031.00",
    ("patient", "person_key"): "DE02.01.030.00",
    ("encounter", "visit_no"): "DE01.00.010.00",
    ("diagnosis", "icd_code"): "DE05.01.024.00",
    ("lab_result", "item_code"): "DE04.30.019.00",
    **{(entity, "institution_id"): "DE08.10.013.00" for entity in ENTITY_MODELS},
}


def committed(entity: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(schema_path(ROOT, entity).read_text(encoding="utf-8"))
    return document


def test_committed_schemas_equal_the_models() -> None:
    assert stale_std_schemas(ROOT) == []


def test_staleness_is_detected(tmp_path: Path) -> None:
    assert len(stale_std_schemas(tmp_path)) == len(ENTITY_MODELS)  # none written yet
    write_std_schemas(tmp_path)
    assert stale_std_schemas(tmp_path) == []
    path = schema_path(tmp_path, "exam")
    path.write_text(path.read_text().replace('"level": 3', '"level": 2', 1))
    assert stale_std_schemas(tmp_path) == [path]


@pytest.mark.parametrize("entity", sorted(ENTITY_MODELS))
def test_every_field_has_category_and_level(entity: str) -> None:
    for field in committed(entity)["fields"]:
        assert field["category"] in CATEGORIES, field["name"]
        assert field["level"] in (1, 2, 3, 4, 5), field["name"]
        assert field["doc"], field["name"]


def test_data_elements_tag_the_right_fields() -> None:
    tagged = {
        (entity, field["name"]): field["de"]
        for entity in ENTITY_MODELS
        for field in committed(entity)["fields"]
        if field["de"] is not None
    }
    assert tagged == DATA_ELEMENTS


def test_no_clear_identifier_field_reaches_a_schema() -> None:
    clear = {name for names in CLEAR_FIELDS.values() for name in names}
    for entity in ENTITY_MODELS:
        assert not clear & {f["name"] for f in committed(entity)["fields"]}, entity


def _sample(name: str, annotation: Any, meta: dict[str, Any]) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        (inner,) = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _sample(name, inner, meta)
    if origin is typing.Literal:
        return typing.get_args(annotation)[-1]
    if origin is list:
        return ["required", "icd_in_catalogue"]
    samples: dict[Any, Any] = {
        str: f"{name}-值",
        bool: True,
        int: 1949,
        float: 4.75,
        datetime: datetime(2026, 3, 2, 1, 2, 3, 456000, tzinfo=UTC),
        date: date(1949, 12, 31),
    }
    if annotation is Decimal:
        return Decimal("-12.5").quantize(Decimal(1).scaleb(-meta["scale"]))
    return samples[annotation]


def full_record(model: type[StdRecord]) -> StdRecord:
    values = {
        name: _sample(name, info.annotation, field_meta(model, name))
        for name, info in model.model_fields.items()
    }
    return model.model_validate(values)


@pytest.mark.parametrize("entity", sorted(ENTITY_MODELS))
def test_a_full_record_round_trips_through_fastavro(entity: str) -> None:
    model = ENTITY_MODELS[entity]
    record = full_record(model)
    data = record.model_dump()
    assert all(value is not None for value in data.values())
    parsed = fastavro.parse_schema(committed(entity))
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, parsed, data)
    buffer.seek(0)
    back = fastavro.schemaless_reader(buffer, parsed, parsed)
    assert model.model_validate(back) == record


def test_a_protected_patient_fits_the_schema() -> None:
    values = {
        "patient_id": "P1",
        "id_type": "01",
        "id_number": "11010519491231002X",
        "name": "张三",
        "sex_code": "2",
        "birth_date": date(1949, 12, 31),
        "phone": "13512340001",
        "address": "思明区嘉禾路12号",
        "region_code": "350203",
        "region_name": "厦门市思明区",
    }
    at = datetime(2026, 3, 2, 8, tzinfo=UTC)
    protected = Pseudonymizer(b"k" * 32).protect("patient", values, at, institution_id="A")
    base = full_record(ENTITY_MODELS["patient"]).model_dump()
    record = ENTITY_MODELS["patient"].model_validate({**base, **protected})
    buffer = io.BytesIO()
    fastavro.schemaless_writer(
        buffer, fastavro.parse_schema(std_schema(ENTITY_MODELS["patient"])), record.model_dump()
    )
    for clear in ("张三", "11010519491231002X", "13512340001", "嘉禾路"):
        assert clear.encode() not in buffer.getvalue()


def test_the_catalog_has_one_documented_topic_per_entity() -> None:
    specs = {s.name: s for s in load_catalog(ROOT / "topics")}
    for entity, model in ENTITY_MODELS.items():
        spec = specs[f"std.{entity}"]
        assert spec.value_schema == f"std/{entity}.avsc"
        assert spec.value_subject == "topic"
        assert "record_id" in spec.key
        levels = [field_meta(model, name)["level"] for name in model.model_fields]
        assert spec.security_level >= max(levels)
        assert any(c in spec.security_category for c in CATEGORIES)


def _invoke(project: Path, *args: str) -> Any:
    env = {"STREAMHUB_PROJECT_DIR": str(project), "STREAMHUB_DATA_DIR": str(project / ".sh")}
    return CliRunner().invoke(cli, ["schemas", "std", *args], env=env)


def test_cli_writes_and_checks(tmp_path: Path) -> None:
    result = _invoke(tmp_path, "--check")
    assert result.exit_code == 1
    assert "avro_schemas/std/patient.avsc" in result.output and "stale" in result.output
    assert _invoke(tmp_path, "--write").exit_code == 0
    result = _invoke(tmp_path, "--check")
    assert result.exit_code == 0, result.output
    assert "stale" not in result.output
    schema_path(tmp_path, "order").write_text("{}")
    result = _invoke(tmp_path, "--check")
    assert result.exit_code == 1
    assert "avro_schemas/std/order.avsc" in result.output
    assert "avro_schemas/std/patient.avsc: current" in result.output
