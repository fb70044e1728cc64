"""What ClickHouse should hold: the standardized form of the sources' final state.

The sources are read now through the capture agent's own snapshot readers (the
values an envelope would carry), mapped with the connector's profile, checked and
pseudonymized; the pipeline must have landed exactly these records, row for row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from streamhub.capture.connector import ConnectorConfig
from streamhub.config import Settings
from streamhub.standardize.checks import check
from streamhub.standardize.mapper import map_row
from streamhub.standardize.profile import Profile
from streamhub.standardize.pseudonym import Pseudonymizer

from .harness import SourceRow, source_final_state


@dataclass(frozen=True)
class Expected:
    entity: str
    record_id: str
    institution_id: str
    source_table: str
    source_key: str  # the keyed token, as std records carry it
    key_json: str  # the clear key, for the test's own messages only
    values: dict[str, object]


def expected_records(
    settings: Settings,
    connectors: list[ConnectorConfig],
    profiles: dict[str, Profile],
    pseudonymizer: Pseudonymizer,
) -> dict[tuple[str, str], Expected]:
    """(entity, record_id) -> the values that must have landed (mapped fields, flags)."""
    by_name = {c.name: c for c in connectors}
    expected: dict[tuple[str, str], Expected] = {}
    for row in source_final_state(settings, connectors):
        config = by_name[row.connector]
        expected_one = _standardized(row, config, profiles[config.profile], pseudonymizer)
        expected[(expected_one.entity, expected_one.record_id)] = expected_one
    return expected


def _standardized(
    row: SourceRow, config: ConnectorConfig, profile: Profile, pseudonymizer: Pseudonymizer
) -> Expected:
    mapped = map_row(profile, row.table, row.image)
    issues = [*mapped.issues, *check(mapped.entity, mapped.values)]
    values = pseudonymizer.protect(
        mapped.entity, mapped.values, mapped.business_time, institution_id=config.institution_id
    )
    values |= {
        "cancelled": mapped.cancelled,
        "business_time": mapped.business_time,
        "quality_issues": sorted({i.rule for i in issues}),
        "deleted": False,
    }
    # row identity as the standardizer keys it, with the stack's identity key
    identity = pseudonymizer.identity
    rid = identity.record_id(config.institution_id, row.database, row.qualified, row.key_json)
    source_key = identity.source_key(
        config.institution_id, row.database, row.qualified, row.key_json
    )
    values["source_key"] = source_key
    return Expected(
        mapped.entity, rid, config.institution_id, row.qualified, source_key, row.key_json, values
    )


def same(expected: object, actual: object) -> bool:
    """Equal after the JSON round trip of a ClickHouse query (text decimals and times)."""
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, bool):
        return bool(actual) == expected and actual in (True, False, 0, 1, "true", "false")
    if isinstance(expected, Decimal):
        return Decimal(str(actual)) == expected
    if isinstance(expected, float):
        return math.isclose(float(str(actual)), expected, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(expected, datetime):
        return _instant(actual) == expected.astimezone(UTC)
    if isinstance(expected, list):
        return isinstance(actual, list) and sorted(map(str, actual)) == sorted(map(str, expected))
    if isinstance(expected, int):
        return int(str(actual)) == expected
    return str(actual) == str(expected)


def _instant(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).replace(" ", "T")
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def differences(
    expected: dict[tuple[str, str], Expected], landed: dict[tuple[str, str], dict[str, Any]]
) -> list[str]:
    problems = [f"missing in ClickHouse: {e.entity} {e.source_table} {e.key_json}"
                for k, e in expected.items() if k not in landed]  # fmt: skip
    problems += [
        f"in ClickHouse, not in the source: {k[0]} {row.get('source_table')} "
        f"{row.get('source_key')}"
        for k, row in landed.items()
        if k not in expected
    ]
    for key in expected.keys() & landed.keys():
        want, got = expected[key], landed[key]
        wrong = [
            f"{field}={got.get(field)!r} (want {value!r})"
            for field, value in want.values.items()
            if not same(value, got.get(field))
        ]
        if wrong:
            problems.append(f"{want.entity} {want.source_table} {want.key_json}: {wrong}")
    return problems
