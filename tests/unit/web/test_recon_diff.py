"""The console's missing-records answer: a real Drill shaped to JSON, errors mapped to HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from streamhub.config import Settings, load_settings
from streamhub.kafka.errors import TopicReadError
from streamhub.reconcile.drill import Drill, RawChange
from streamhub.reconcile.errors import TableNotFoundError
from streamhub.reconcile.keys import TableKey
from streamhub.serde.errors import RegistryUnavailableError
from streamhub.web import recon_diff
from streamhub.web.errors import NotFoundError, ServiceUnavailableError
from tests.unit.reconcile.helpers import INST, T0

TABLE = TableKey(INST, "hisdb", "public.patients")


def change(key: int, seq: int, op: str = "c") -> RawChange:
    return RawChange(
        "h01-his",
        "his",
        TABLE,
        {"patient_id": key},
        op,
        T0 + seq,
        f"0/{seq}",
        seq,
        ("cdc.raw.his", 0, seq),
        f"rid-{key}",
    )


def window(raw: list[RawChange], landed: int = 0) -> Drill:
    return Drill(INST, TABLE, T0, raw, landed={c.version for c in raw[:landed]})


def test_missing_changes_as_json_in_source_log_order() -> None:
    found = window([change(3, 12, "u"), change(1, 10), change(2, 11, "d")], landed=1)
    assert recon_diff.missing_document(found) == {
        "institution_id": INST,
        "table": "hisdb.public.patients",
        "window_start_ms": T0,
        "source_changes": 3,
        "missing": [
            {"key": {"patient_id": 1}, "op": "c", "commit_ts_ms": T0 + 10, "position_seq": 10},
            {"key": {"patient_id": 2}, "op": "d", "commit_ts_ms": T0 + 11, "position_seq": 11},
        ],
        "truncated": False,
        "missing_total": 2,
    }


def test_the_list_is_capped() -> None:
    found = window([change(k, k) for k in range(205)])
    document = recon_diff.missing_document(found)
    assert len(document["missing"]) == recon_diff.MAX_KEYS and document["truncated"]
    assert document["missing_total"] == 205
    assert recon_diff.missing_document(found, limit=205)["truncated"] is False


def test_the_repair_command_is_what_reconcile_diff_reads() -> None:
    # T0 = 2023-11-14T22:14 UTC = 2023-11-15T06:14 Asia/Shanghai
    assert recon_diff.repair_command(window([change(1, 1)])) == (
        f"streamhub reconcile diff --institution {INST} --table hisdb.public.patients "
        "--window 2023-11-15T06:14 --repair"
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path)


def failing(exc: Exception) -> Any:
    def drill(*args: Any, **kwargs: Any) -> Drill:
        raise exc

    return drill


@pytest.mark.parametrize(
    ("raised", "answered"),
    [
        (
            TableNotFoundError(
                "institution x: no change of t", institution="x", table="t", window_start_ms=T0
            ),
            NotFoundError,
        ),
        (TopicReadError("could not read cdc.raw.his[0]"), ServiceUnavailableError),
        (RegistryUnavailableError("registry down"), ServiceUnavailableError),
    ],
)
def test_read_errors_become_http_errors(
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    raised: Exception,
    answered: type[Exception],
) -> None:
    monkeypatch.setattr(recon_diff, "drill", failing(raised))
    with pytest.raises(answered):
        recon_diff.read_missing(settings, INST, "his", "public.patients", T0)


def test_no_identity_key_is_unavailable_and_says_which_secret(settings: Settings) -> None:
    """The real drill loads the identity key before reading Kafka: without it the console
    answers 503 naming the secret, not a 500."""
    with pytest.raises(ServiceUnavailableError, match="pseudonym_identity_key"):
        recon_diff.read_missing(settings, INST, "his", "public.patients", T0)


def test_another_systems_table_is_not_found(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    found = window([change(1, 1)])
    monkeypatch.setattr(recon_diff, "drill", lambda *a, **k: found)
    with pytest.raises(NotFoundError, match="system his, not lis"):
        recon_diff.read_missing(settings, INST, "lis", "public.patients", T0)
    answer = recon_diff.read_missing(settings, INST, "his", "public.patients", T0)
    assert answer["repair_command"].endswith("--repair") and answer["missing"]
