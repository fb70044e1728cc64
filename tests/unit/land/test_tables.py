"""Model → ClickHouse column types, and the migration files' shape."""

from __future__ import annotations

import re

import pytest

from streamhub.land.migrations import Migration, load_migrations
from streamhub.land.tables import column_type, model_columns, render_entity_table
from streamhub.standardize.model import ENTITY_MODELS, Charge, Encounter, LabResult, Order


def test_column_types_follow_the_model() -> None:
    assert column_type(Encounter, "record_id") == "String"
    assert column_type(Encounter, "institution_id") == "LowCardinality(String)"
    assert column_type(Encounter, "source_position_seq") == "UInt64"
    assert column_type(Encounter, "deleted") == "Bool"
    assert column_type(Encounter, "commit_time") == "DateTime64(3, 'UTC')"
    assert column_type(Encounter, "visit_time") == "Nullable(DateTime64(3, 'UTC'))"
    assert column_type(Encounter, "encounter_type") == "LowCardinality(Nullable(String))"
    assert column_type(Encounter, "quality_issues") == "Array(LowCardinality(String))"
    assert column_type(Charge, "amount") == "Nullable(Decimal(18, 2))"
    assert column_type(Charge, "is_drug") == "Nullable(Bool)"
    assert column_type(Order, "dose") == "Nullable(Decimal(18, 3))"
    assert column_type(LabResult, "value_num") == "Nullable(Float64)"


def test_every_model_field_has_a_column_in_the_migrations() -> None:
    """The first migration creates the tables as the models were then; fields added since
    come with an ``ALTER TABLE … ADD COLUMN`` of the model's type in a later migration."""
    first, *later = load_migrations()
    for entity, model in ENTITY_MODELS.items():
        added = dict(
            re.findall(
                rf"ALTER TABLE std_{entity} ADD COLUMN IF NOT EXISTS `(\w+)` (.+?)(?: AFTER \w+)?;",
                "\n".join(m.sql for m in later),
            )
        )
        for name, type_ in added.items():
            assert column_type(model, name) == type_, f"std_{entity}.{name}"
        ddl = "".join(
            line
            for line in render_entity_table(entity).splitlines(keepends=True)
            if not any(line.startswith(f"    `{name}` ") for name in added)
        )
        # fields removed since go with an ``ALTER TABLE … DROP COLUMN`` in a later migration
        dropped = set(
            re.findall(
                rf"ALTER TABLE std_{entity} DROP COLUMN IF EXISTS `(\w+)`;",
                "\n".join(m.sql for m in later),
            )
        )
        assert not dropped & set(model.model_fields), f"std_{entity}: dropped but modelled"
        created = "".join(
            line
            for line in first.sql.splitlines(keepends=True)
            if not any(line.startswith(f"    `{name}` ") for name in dropped)
        )
        assert ddl in created, f"std_{entity} DDL drifted from the model"
        assert set(model_columns(model)) == set(model.model_fields)


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    versions = [m.version for m in load_migrations()]
    assert versions == list(range(1, len(versions) + 1))


def test_statements_split_on_semicolons_at_line_ends_and_drop_comments() -> None:
    m = Migration(
        1,
        "x",
        "-- a comment; not a statement\nCREATE TABLE a (x String DEFAULT ';');\n"
        "\nCREATE VIEW b AS\nSELECT 1;\n",
    )
    assert m.statements() == ["CREATE TABLE a (x String DEFAULT ';')", "CREATE VIEW b AS\nSELECT 1"]


@pytest.mark.parametrize("entity", sorted(ENTITY_MODELS))
def test_sort_key_is_fixed_for_a_records_life(entity: str) -> None:
    ddl = render_entity_table(entity)
    assert "ORDER BY (institution_id, record_id)" in ddl
    assert "ReplacingMergeTree(source_position_seq, deleted)" in ddl
    assert "PARTITION BY" not in ddl
