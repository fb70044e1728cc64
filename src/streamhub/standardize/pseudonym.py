"""Personal identifiers -> keyed pseudonyms, masks and generalizations (GB/T 37964 techniques).

The person key is an HMAC over ID type + normalized number, not a plain hash: the space of
resident ID numbers is small enough to enumerate, so only holders of the platform key can
link a pseudonym back. The same key everywhere makes one person link across institutions.
Person keys come from a rotating keyring (the active key; records say which by
``pseudonym_key_id``); row identities and institution-internal ids are tokens of a separate
identity key that never rotates with them (see pseudonym_keys and
docs/decisions/pseudonym-keys.md).
What else leaves about a patient is what docs/decisions/privacy.md allows: sex, a ten-year age
band (80+ top-coded) at the Shanghai date of the business time, and the prefecture of the
address. No part of a name, ID number, phone, birth date or address leaves, not even in a
quality event (:func:`mask_observed` withholds them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from zoneinfo import ZoneInfo

from streamhub.codes import catalogue
from streamhub.config import Settings
from streamhub.errors import ConfigError
from streamhub.standardize.model import CLEAR_FIELDS, KEY_ID_ENTITIES, TOKEN_FIELDS
from streamhub.standardize.pseudonym_keys import (
    LEGACY_KEY_ID,
    MIN_KEY_BYTES,
    IdentityTokens,
    KeyRing,
    PseudonymKey,
    load_ring,
)

AGE_BAND_WIDTH = 10
AGE_BAND_TOP = 80  # everyone from 80 up shares one band: old ages are rare enough to identify
_OBSERVED_MAX = 80  # quality events carry a hint of the value, not a document
SHANGHAI = ZoneInfo("Asia/Shanghai")  # ages and "today" are Beijing dates (DOMAIN.md)


def age_band(birth_date: date, on: date) -> str | None:
    """``0-9`` … ``70-79``, ``80+`` at ``on``; None when born after ``on`` (bad data)."""
    age = on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))
    if age < 0:
        return None
    if age >= AGE_BAND_TOP:
        return f"{AGE_BAND_TOP}+"
    low = age - age % AGE_BAND_WIDTH
    return f"{low}-{low + AGE_BAND_WIDTH - 1}"


def shanghai_date(at: datetime) -> date:
    """The Beijing calendar date of ``at`` (naive means UTC, as every std time is)."""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(SHANGHAI).date()


def age_band_at(birth_date: date, at: datetime) -> str | None:
    """The age band on the Shanghai date of ``at``: 00:30 Beijing on a birthday (16:30 UTC the
    day before) is already the new age."""
    return age_band(birth_date, shanghai_date(at))


@cache
def _prefecture_names() -> dict[str, str]:
    """Prefecture code (GB/T 2260, ``350200``) -> name (``厦门市``), from the county catalogue."""
    names: dict[str, str] = {}
    for region in catalogue.regions():
        if region.name.endswith(region.district) and len(region.name) > len(region.district):
            names[prefecture_code(region.code) or ""] = region.name[: -len(region.district)]
    return names


def prefecture_code(county: str) -> str | None:
    """The prefecture-level division of a six-digit GB/T 2260 county code: ``350203`` ->
    ``350200``; None when the code is not six digits (it cannot be generalized, so it is
    suppressed)."""
    code = county.strip()
    if len(code) != 6 or not code.isdigit():
        return None
    return code[:4] + "00"


def prefecture_name(prefecture: str | None) -> str | None:
    return None if prefecture is None else _prefecture_names().get(prefecture)


# Fields whose value an ``ops.quality`` event never shows, not even masked: a mask (first
# character, region + sequence + check digit, birth year) narrows the person down, and an
# institution's own identifiers (patient and visit numbers, accession numbers, DICOM UIDs)
# leave only as keyed tokens, so their clear value must not ride along in a quality event.
WITHHELD_FIELDS = frozenset(
    {"name", "doctor", "verifier", "id_number", "phone", "address", "birth_date"}
    | {name for fields in TOKEN_FIELDS.values() for name in fields}
)


def mask_observed(field: str | None, value: object) -> str | None:
    """The offending value as an ``ops.quality`` event may show it: nothing when ``field`` is a
    personal identifier, shortened otherwise."""
    if value is None or (field or "") in WITHHELD_FIELDS:
        return None
    text = value.isoformat() if isinstance(value, date) else str(value)
    return text if len(text) <= _OBSERVED_MAX else text[: _OBSERVED_MAX - 1] + "…"


def _text(values: Mapping[str, object], name: str) -> str | None:
    value = values.get(name)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


@dataclass(frozen=True, slots=True)
class _EntityPlan:
    """What :meth:`Pseudonymizer.protect` does to one entity, resolved once from the model's
    tables (CLEAR_FIELDS, TOKEN_FIELDS, KEY_ID_ENTITIES) instead of on every record."""

    clear: tuple[str, ...]
    tokens: tuple[tuple[str, str], ...]  # (field, kind), in TOKEN_FIELDS order
    key_id: bool
    staff: str | None  # the field holding a doctor's or verifier's name
    staff_key: str | None  # ... and the protected field it becomes


def _plan(entity: str) -> _EntityPlan:
    staff = {"encounter": ("doctor", "doctor_key"), "lab_report": ("verifier", "verifier_key")}
    field, key = staff.get(entity, (None, None))
    return _EntityPlan(
        clear=CLEAR_FIELDS.get(entity, ()),
        tokens=tuple(TOKEN_FIELDS.get(entity, {}).items()),
        key_id=entity in KEY_ID_ENTITIES,
        staff=field,
        staff_key=key,
    )


# every entity the model tables name; any other entity passes through unchanged, as before
_PLANS = {e: _plan(e) for e in {*CLEAR_FIELDS, *TOKEN_FIELDS, *KEY_ID_ENTITIES}}
_NO_PLAN = _plan("")


def _derived_identity(key: bytes) -> IdentityTokens:
    """An identity key derived from a lone person key: for tools and tests that hold one key.
    The services load the separate identity secret (``from_settings``)."""
    derived = PseudonymKey(LEGACY_KEY_ID, key).mac()
    derived.update(b"streamhub identity key")
    return IdentityTokens(PseudonymKey("i-derived", derived.hexdigest().encode()))


class Pseudonymizer:
    """Keyed pseudonyms, tokens and masks; keys are kept private and never printed."""

    __slots__ = ("_active", "_identity", "_ring")

    def __init__(self, keys: bytes | KeyRing, identity: IdentityTokens | None = None) -> None:
        if isinstance(keys, bytes):
            if len(keys) < MIN_KEY_BYTES:
                raise ValueError(f"a pseudonym key needs at least {MIN_KEY_BYTES} bytes")
            identity = identity or _derived_identity(keys)
            keys = KeyRing([PseudonymKey(LEGACY_KEY_ID, keys)])
        if identity is None:
            raise ValueError("a keyring needs its identity tokens (IdentityTokens)")
        self._ring = keys
        self._active = keys.active
        self._identity = identity

    @classmethod
    def from_settings(cls, settings: Settings) -> Pseudonymizer:
        """The ring's active key for person keys, the identity key for tokens; either
        missing or shorter than 16 bytes is a ConfigError naming the secret."""
        try:
            return cls(load_ring(settings), IdentityTokens.from_settings(settings))
        except ConfigError as exc:
            raise ConfigError(
                f"{exc} (the local stack generates the keys on `streamhub stack up`)"
            ) from exc

    def __repr__(self) -> str:
        return f"Pseudonymizer(key_id={self.key_id!r}, keys=<hidden>)"

    @property
    def key_id(self) -> str:
        """Id of the active person-linkage key: what records carry as ``pseudonym_key_id``."""
        return self._active.key_id

    @property
    def identity(self) -> IdentityTokens:
        return self._identity

    def token(self, kind: str, institution_id: str, value: str) -> str:
        """A keyed token of an institution-internal identifier (see IdentityTokens)."""
        return self._identity.token(kind, institution_id, value)

    def record_id(self, institution_id: str, database: str, table: str, key_json: str) -> str:
        return self._identity.record_id(institution_id, database, table, key_json)

    def source_key(self, institution_id: str, database: str, table: str, key_json: str) -> str:
        return self._identity.source_key(institution_id, database, table, key_json)

    def _hmac(self, message: str, key_id: str | None = None) -> str:
        key = self._active if key_id is None else self._ring.get(key_id)
        return key.hexdigest(message.encode("utf-8"))

    def person_key(self, id_type: str, id_number: str, key_id: str | None = None) -> str:
        """The same person gets the same key in every institution (for the same document).
        ``key_id`` re-derives it under an older key of the ring (linking old records)."""
        return self._hmac(f"{id_type.strip()}:{id_number.strip().upper()}", key_id)

    def staff_key(self, institution_id: str, name: str) -> str:
        """Doctors and verifiers are known by name within one institution only: scope by it."""
        return self._hmac(f"staff:{institution_id.strip()}:{name.strip()}")

    def protect(
        self,
        entity: str,
        values: Mapping[str, object],
        at: datetime | None,
        *,
        institution_id: str | None = None,
    ) -> dict[str, object]:
        """``values`` with every clear field of ``entity`` replaced by its protected fields.

        ``at`` (the business time) dates the age band; ``institution_id`` scopes staff keys and
        is needed when the values name a doctor or verifier.
        """
        plan = _PLANS.get(entity, _NO_PLAN)
        out = dict(values)  # a copy, then the clear fields out: the rest keep their order
        for name in plan.clear:
            out.pop(name, None)
        if plan.tokens:
            self._tokens(entity, plan.tokens, values, institution_id, out)
        if plan.key_id:
            out["pseudonym_key_id"] = self._active.key_id
        if entity == "patient":
            out.update(self._patient(values, at))
        elif plan.staff is not None and plan.staff_key is not None:
            out[plan.staff_key] = self._staff(values, plan.staff, institution_id)
        return out

    def _tokens(
        self,
        entity: str,
        fields: tuple[tuple[str, str], ...],
        values: Mapping[str, object],
        institution_id: str | None,
        out: dict[str, object],
    ) -> None:
        """Institution-internal ids as keyed tokens, written over their clear value in ``out``:
        links inside the institution still join (the same kind and value give the same token),
        the number itself never leaves."""
        token = self._identity.token
        for name, kind in fields:
            if name not in values:
                continue
            value = values[name]
            text = None if value is None else str(value).strip()
            if not text:
                out[name] = None
                continue
            if not institution_id:
                raise ValueError(
                    f"protect() needs institution_id= to key {entity}.{name} (tokens are "
                    "scoped to their institution)"
                )
            out[name] = token(kind, institution_id, text)

    def _patient(self, values: Mapping[str, object], at: datetime | None) -> dict[str, object]:
        """Person key, age band and prefecture; nothing of the name, ID number, phone, birth
        date or address (docs/decisions/privacy.md: k-anonymity over sex, age band, region)."""
        number = _text(values, "id_number")
        id_type = _text(values, "id_type")
        birth = values.get("birth_date")
        if isinstance(birth, datetime):
            birth = birth.date()
        birth_date = birth if isinstance(birth, date) else None
        county = _text(values, "region_code")
        region = prefecture_code(county) if county else None
        return {
            # without its type a number is ambiguous (a passport may equal another's ID)
            "person_key": self.person_key(id_type, number) if number and id_type else None,
            "age_band": age_band_at(birth_date, at) if birth_date and at else None,
            # the county made sex x age band classes of 2 on the simulator's population;
            # the prefecture gives 11 (tests/unit/standardize/test_k_anonymity.py)
            "region_code": region,
            "region_name": prefecture_name(region),
        }

    def _staff(
        self, values: Mapping[str, object], field: str, institution_id: str | None
    ) -> str | None:
        name = _text(values, field)
        if name is None:
            return None
        if not institution_id:
            raise ValueError(
                f"protect() needs institution_id= to key the {field} name (staff keys are "
                "scoped to their institution)"
            )
        return self.staff_key(institution_id, name)
