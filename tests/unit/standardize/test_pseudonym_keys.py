"""Keyed tokens for row identities and internal ids; the person-key ring, its rotation and the
`streamhub pseudonym` commands (never printing a key)."""

from __future__ import annotations

import hashlib
import logging
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from streamhub.cli.main import cli
from streamhub.config import Settings, load_settings
from streamhub.core.clock import ManualClock
from streamhub.errors import ConfigError
from streamhub.standardize.model import ENTITY_MODELS, TOKEN_FIELDS
from streamhub.standardize.profile import load_profile, personal_key_fields
from streamhub.standardize.pseudonym import Pseudonymizer
from streamhub.standardize.pseudonym_keys import (
    IdentityTokens,
    PseudonymKey,
    load_ring,
    retire,
    ring_path,
    rotate,
)

ID = "11010519491231002X"
LEGACY = "legacy-person-key-0123456789"
IDENTITY = "identity-key-0123456789abcdef"


def tokens(secret: bytes = IDENTITY.encode()) -> IdentityTokens:
    return IdentityTokens(PseudonymKey("i1", secret))


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in (
        "PSEUDONYM_KEY",
        "PSEUDONYM_KEY_FILE",
        "PSEUDONYM_IDENTITY_KEY",
        "PSEUDONYM_IDENTITY_KEY_FILE",
        "CONFIG",
    ):
        monkeypatch.delenv(f"STREAMHUB_{name}", raising=False)
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o700)
    (secrets / "pseudonym_key").write_text(LEGACY + "\n")
    (secrets / "pseudonym_identity_key").write_text(IDENTITY + "\n")
    return load_settings(data_dir=tmp_path)


def test_tokens_are_deterministic_keyed_and_scoped() -> None:
    t = tokens()
    assert t.token("patient", "A", "P1") == t.token("patient", "A", "P1")
    assert len(t.token("patient", "A", "P1")) == 32
    assert t.token("patient", "A", "P1") != t.token("patient", "B", "P1")  # institution
    assert t.token("patient", "A", "P1") != t.token("encounter", "A", "P1")  # kind
    assert t.token("patient", "A", "P1") != tokens(b"another-identity-key-0123").token(
        "patient", "A", "P1"
    )  # key
    # not the unkeyed hash the old record_id was: enumeration does not reverse it
    assert (
        t.token("patient", "A", ID)
        not in hashlib.sha256(f"patient\x1fA\x1f{ID}".encode()).hexdigest()
    )
    key = '{"BRID":"P1"}'
    rid, skey = t.record_id("A", "db", "T", key), t.source_key("A", "db", "T", key)
    assert rid != skey and "P1" not in rid + skey
    assert rid != t.record_id("A", "db2", "T", key) != t.record_id("A", "db", "T2", key)
    unkeyed = hashlib.sha256("\x1f".join(("A", "db", "T", key)).encode()).hexdigest()[:32]
    assert rid != unkeyed


def test_internal_ids_join_within_an_institution() -> None:
    p = Pseudonymizer(b"person-key-0123456789ab", tokens())
    patient = p.protect(
        "patient", {"patient_id": "P1", "id_type": "01", "id_number": ID}, None, institution_id="A"
    )
    encounter = p.protect(
        "encounter",
        {"encounter_id": "E1", "patient_id": "P1", "visit_no": "MZ1"},
        None,
        institution_id="A",
    )
    diagnosis = p.protect(
        "diagnosis",
        {"diagnosis_id": "D1", "patient_id": "P1", "encounter_id": "E1"},
        None,
        institution_id="A",
    )
    settlement = p.protect("charge", {"charge_id": "S9"}, None, institution_id="A")
    fee = p.protect(
        "charge",
        {"charge_id": "F1", "settlement_id": "S9", "refund_of": None},
        None,
        institution_id="A",
    )
    assert encounter["patient_id"] == patient["patient_id"] == diagnosis["patient_id"]
    assert diagnosis["encounter_id"] == encounter["encounter_id"]
    assert fee["settlement_id"] == settlement["charge_id"] and fee["refund_of"] is None
    text = repr([patient, encounter, diagnosis, fee])
    for clear in ("P1", "E1", "D1", "MZ1", "S9", ID):
        assert clear not in text
    with pytest.raises(ValueError, match="institution_id"):
        p.protect("exam", {"exam_id": "X1"}, None)


def test_every_id_like_field_of_the_model_is_tokenized() -> None:
    ids = {
        (entity, name)
        for entity, model in ENTITY_MODELS.items()
        for name in model.model_fields
        if name.endswith(("_id", "_no", "_of", "_uid"))
        and name not in ("record_id", "institution_id", "pseudonym_key_id", "line_no")
    }  # line_no: 1..n
    tokenized = {(entity, name) for entity, fields in TOKEN_FIELDS.items() for name in fields}
    assert ids <= tokenized, ids - tokenized


def test_the_single_legacy_key_is_the_ring_as_k1(settings: Settings) -> None:
    ring = load_ring(settings)
    assert [k.key_id for k in ring] == ["k1"] and ring.active.key_id == "k1"
    p = Pseudonymizer.from_settings(settings)
    assert p.key_id == "k1"
    assert p.person_key("01", ID) == Pseudonymizer(LEGACY.encode()).person_key("01", ID)
    assert p.identity.record_id("A", "d", "t", "{}") == tokens().record_id("A", "d", "t", "{}")


def test_rotation_changes_person_keys_not_row_identity(settings: Settings) -> None:
    before = Pseudonymizer.from_settings(settings)
    new = rotate(settings)
    assert new.key_id == "k2"
    path = ring_path(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert LEGACY in path.read_text()  # k1 kept: records keyed with it stay verifiable
    after = Pseudonymizer.from_settings(settings)
    assert after.key_id == "k2"
    assert after.person_key("01", ID) != before.person_key("01", ID)
    assert after.staff_key("A", "王伟") != before.staff_key("A", "王伟")
    # the same person in two institutions still links, under the new key
    one = after.protect(
        "patient", {"patient_id": "1", "id_type": "01", "id_number": ID}, None, institution_id="A"
    )
    two = after.protect(
        "patient", {"patient_id": "9", "id_type": "01", "id_number": ID}, None, institution_id="B"
    )
    assert one["person_key"] == two["person_key"] and one["pseudonym_key_id"] == "k2"
    # old records stay linkable: the old key re-derives their pseudonyms
    assert after.person_key("01", ID, key_id="k1") == before.person_key("01", ID)
    # row identity and internal ids do not move: an update after rotation replaces the row
    key = '{"BRID":"1"}'
    assert after.identity.record_id("A", "d", "t", key) == before.identity.record_id(
        "A", "d", "t", key
    )
    assert after.token("patient", "A", "1") == before.token("patient", "A", "1")
    assert [k.key_id for k in load_ring(settings)] == ["k1", "k2"]
    assert rotate(settings).key_id == "k3"


def test_rotation_stamps_the_new_key_with_the_clocks_time(settings: Settings) -> None:
    clock = ManualClock()
    clock.set(1_772_420_100.0)
    assert rotate(settings, clock).created == "2026-03-02T02:55:00Z"
    assert load_ring(settings).active.created == "2026-03-02T02:55:00Z"


def test_retire_removes_an_old_key_but_never_the_active_one(settings: Settings) -> None:
    rotate(settings)
    with pytest.raises(ConfigError, match="active"):
        retire(settings, "k2")
    retire(settings, "k1")
    assert [k.key_id for k in load_ring(settings)] == ["k2"]
    assert LEGACY not in ring_path(settings).read_text()
    with pytest.raises(ConfigError, match="no pseudonym key 'k7'"):
        retire(settings, "k7")


def test_a_malformed_ring_names_the_line_not_the_secret(settings: Settings) -> None:
    ring_path(settings).write_text("k1 2026-01-01T00:00:00Z\nk2 x very-secret-value-0123 extra\n")
    with pytest.raises(ConfigError, match="line 1") as caught:
        load_ring(settings)
    assert "very-secret" not in str(caught.value)
    ring_path(settings).write_text("k1 - short\n")
    with pytest.raises(ConfigError, match="shorter than 16"):
        load_ring(settings)


def test_a_missing_identity_key_is_a_config_error(settings: Settings) -> None:
    (settings.secrets_dir / "pseudonym_identity_key").unlink()
    with pytest.raises(ConfigError, match="pseudonym_identity_key"):
        Pseudonymizer.from_settings(load_settings(data_dir=settings.data_dir))


def test_keys_never_show_in_reprs() -> None:
    key = PseudonymKey("k1", b"very-secret-key-0123456789")
    p = Pseudonymizer(b"very-secret-key-0123456789", IdentityTokens(key))
    for shown in (repr(key), repr(p), repr(p.identity), str(p)):
        assert "very-secret" not in shown


def _cli(settings: Settings, *args: str) -> tuple[int, str]:
    runner = CliRunner()
    result = runner.invoke(
        cli, ["pseudonym", *args], env={"STREAMHUB_DATA_DIR": str(settings.data_dir)}
    )
    return result.exit_code, result.output


def test_rotate_and_list_commands_print_ids_never_keys(settings: Settings) -> None:
    code, listed = _cli(settings, "list")
    assert code == 0 and "k1" in listed and "active" in listed and "identity key: i-" in listed
    code, output = _cli(settings, "rotate")
    assert code == 0, output
    assert "k2" in output and "restart" in output
    ring = ring_path(settings).read_text()
    assert stat.S_IMODE(ring_path(settings).stat().st_mode) == 0o600
    secrets = [line.split()[2] for line in ring.splitlines() if not line.startswith("#")]
    code, listed = _cli(settings, "list")
    assert code == 0 and "k2" in listed
    for text in (output, listed):
        for secret in (*secrets, IDENTITY):
            assert secret not in text
    code, output = _cli(settings, "rotate", "--retire", "k2")
    assert code != 0 and "active" in output


def test_a_profile_keyed_on_the_id_number_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "vendor.yaml"
    path.write_text(
        "name: idkeyed\nversion: 1\nvendor: v\ntables:\n"
        "  PAT:\n    entity: patient\n    fields:\n"
        "      patient_id: SFZH\n      id_number: SFZH\n      id_type: {const: '01'}\n"
        "  VISIT:\n    entity: encounter\n    fields:\n      encounter_id: VID\n"
        "      patient_id: PID\n",
        encoding="utf-8",
    )
    with caplog.at_level(logging.WARNING, logger="streamhub.standardize.profile"):
        profile = load_profile(path)
    assert personal_key_fields(profile.tables["PAT"]) == ["patient_id"]
    assert personal_key_fields(profile.tables["VISIT"]) == []
    warned = [r for r in caplog.records if r.getMessage().startswith("profile keys rows")]
    assert len(warned) == 1 and warned[0].table == "PAT"  # type: ignore[attr-defined]
