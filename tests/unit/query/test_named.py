"""Named queries: what a caller may give, checked before anything reaches ClickHouse."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from streamhub.config import load_settings
from streamhub.errors import ConfigError
from streamhub.query import CATALOG, NamedQuery, Param, QueryParameterError, UnknownQueryError
from streamhub.query.token import MIN_TOKEN_CHARS, checked_token, query_token


def test_the_catalog_holds_what_the_web_app_and_cli_run() -> None:
    assert {
        "ping",
        "dashboard.today",
        "dashboard.fees",
        "dashboard.freshness",
        "dashboard.minutes",
        "console.reconciliation.windows",
        "console.quality",
    } <= set(CATALOG.names())
    with pytest.raises(UnknownQueryError, match="never SQL"):
        CATALOG.get("SELECT * FROM file('/etc/passwd', 'LineAsString')")


def test_parameters_are_declared_typed_and_defaulted() -> None:
    query, bound = CATALOG.bind(
        "dashboard.minutes", {"today": "2026-11-25", "last_week": dt.date(2026, 11, 18)}
    )
    assert bound == {"today": dt.date(2026, 11, 25), "last_week": dt.date(2026, 11, 18)}
    assert "{today:Date}" in query.sql
    query, bound = CATALOG.bind("console.reconciliation.daily", {"since": 0})
    assert bound == {"since": 0, "institution": ""}  # an optional filter defaults to ''
    assert "{institution:String}" in query.sql
    refusals = [
        ("console.quality", {"since": 0, "extra": 1}, "has no parameter extra"),
        ("console.quality", {}, "since is required"),
        ("console.quality", {"since": "0"}, "since must be an integer"),
        ("console.quality", {"since": True}, "since must be an integer"),
        ("console.quality", {"since": 2**63}, "since must be an integer"),
        ("console.anomalies", {"limit": -1}, "limit must be an integer"),
        ("console.anomalies", {"open": "yes"}, "open must be true or false"),
        ("console.anomaly", {"id": "x" * 300}, "at most 256"),
        ("console.reconciliation.windows", {"since": 0, "status": "BAD"}, "one of"),
        ("check.fees_of_day", {"day": "2026-13-01"}, "a date"),
        ("check.fees_of_day", {"day": dt.datetime(2026, 1, 1)}, "a date"),
        ("ping", {"x": 1}, "declared: none"),
    ]
    for name, given, message in refusals:
        with pytest.raises(QueryParameterError, match=message):
            CATALOG.bind(name, given)


def test_a_refusal_does_not_echo_the_value() -> None:
    with pytest.raises(QueryParameterError) as refused:
        CATALOG.bind("console.anomaly", {"id": 110101199003071234})
    assert "110101199003071234" not in str(refused.value)


def test_only_plain_selects_with_declared_placeholders_register() -> None:
    with pytest.raises(ValueError, match="placeholders"):
        NamedQuery("t.undeclared", "SELECT {x:String} AS x")
    with pytest.raises(ValueError, match="placeholders"):
        NamedQuery("t.typed", "SELECT {x:String} AS x", {"x": Param("Int64")})
    with pytest.raises(ValueError, match="only plain SELECTs"):
        NamedQuery("t.outfile", "SELECT 1 into  outfile '/tmp/x'")
    with pytest.raises(ValueError, match="registered twice"):
        CATALOG.extended([NamedQuery("ping", "SELECT 2 AS ok")])
    assert NamedQuery(
        "t.ok", "SELECT value FROM system.settings WHERE name = {n:String}", {"n": Param("String")}
    ).bind({"n": "readonly"}) == {"n": "readonly"}


@pytest.mark.parametrize("token", ["", "   ", "x" * (MIN_TOKEN_CHARS - 1)])
def test_short_tokens_are_a_configuration_error(token: str) -> None:
    with pytest.raises(ConfigError, match=f"at least {MIN_TOKEN_CHARS}") as refused:
        checked_token(token, "STREAMHUB_QUERY_TOKEN")
    assert refused.value.exit_code == 2
    assert checked_token("y" * MIN_TOKEN_CHARS + "\n", "here") == "y" * MIN_TOKEN_CHARS


def test_readers_refuse_a_short_token_up_front(tmp_path: Path) -> None:
    empty = load_settings(data_dir=tmp_path, query_token="")
    with pytest.raises(ConfigError, match="STREAMHUB_QUERY_TOKEN is empty"):
        query_token(empty)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "query_token").write_text("short\n")
    with pytest.raises(ConfigError, match="only 5 characters"):
        query_token(load_settings(data_dir=tmp_path))
