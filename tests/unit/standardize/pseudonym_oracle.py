"""The pseudonymizer as it was before issue 17 (field tables read per record, a new keyed HMAC
per person key, ``hmac.HMAC.copy`` per token): the oracle the compiled protect() is compared
with. The logic of src/streamhub/standardize/pseudonym.py and pseudonym_keys.py at f3933e1,
with the keys held in clear (a test has them); do not change it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import date, datetime

from streamhub.standardize.model import CLEAR_FIELDS, KEY_ID_ENTITIES, TOKEN_FIELDS
from streamhub.standardize.pseudonym import age_band_at, prefecture_code, prefecture_name

TOKEN_HEX = 32


def _text(values: Mapping[str, object], name: str) -> str | None:
    value = values.get(name)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


class OraclePseudonymizer:
    """``person``: the ring's secrets by key id, the last one active; ``identity``: the
    identity secret."""

    def __init__(self, person: dict[str, bytes], identity: bytes) -> None:
        self._person = person
        self.key_id = list(person)[-1]
        self._identity = hmac.new(identity, digestmod=hashlib.sha256)

    def token(self, kind: str, institution_id: str, value: str) -> str:
        h = self._identity.copy()
        h.update("\x1f".join((kind, institution_id, value)).encode("utf-8"))
        return h.hexdigest()[:TOKEN_HEX]

    def record_id(self, institution_id: str, database: str, table: str, key_json: str) -> str:
        return self.token("record", institution_id, f"{database}\x1f{table}\x1f{key_json}")

    def source_key(self, institution_id: str, database: str, table: str, key_json: str) -> str:
        return self.token("source_key", institution_id, f"{database}\x1f{table}\x1f{key_json}")

    def _hmac(self, message: str, key_id: str | None = None) -> str:
        h = hmac.new(self._person[key_id or self.key_id], digestmod=hashlib.sha256)
        h.update(message.encode("utf-8"))
        return h.hexdigest()

    def person_key(self, id_type: str, id_number: str, key_id: str | None = None) -> str:
        return self._hmac(f"{id_type.strip()}:{id_number.strip().upper()}", key_id)

    def staff_key(self, institution_id: str, name: str) -> str:
        return self._hmac(f"staff:{institution_id.strip()}:{name.strip()}")

    def protect(
        self,
        entity: str,
        values: Mapping[str, object],
        at: datetime | None,
        *,
        institution_id: str | None = None,
    ) -> dict[str, object]:
        clear = CLEAR_FIELDS.get(entity, ())
        out = {name: value for name, value in values.items() if name not in clear}
        out.update(self._tokens(entity, values, institution_id))
        if entity in KEY_ID_ENTITIES:
            out["pseudonym_key_id"] = self.key_id
        if entity == "patient":
            out.update(self._patient(values, at))
        elif entity == "encounter":
            out["doctor_key"] = self._staff(values, "doctor", institution_id)
        elif entity == "lab_report":
            out["verifier_key"] = self._staff(values, "verifier", institution_id)
        return out

    def _tokens(
        self, entity: str, values: Mapping[str, object], institution_id: str | None
    ) -> dict[str, object]:
        out: dict[str, object] = {}
        for name, kind in TOKEN_FIELDS.get(entity, {}).items():
            text = _text(values, name)
            if name not in values:
                continue
            if text is None:
                out[name] = None
                continue
            if not institution_id:
                raise ValueError(
                    f"protect() needs institution_id= to key {entity}.{name} (tokens are "
                    "scoped to their institution)"
                )
            out[name] = self.token(kind, institution_id, text)
        return out

    def _patient(self, values: Mapping[str, object], at: datetime | None) -> dict[str, object]:
        number = _text(values, "id_number")
        id_type = _text(values, "id_type")
        birth = values.get("birth_date")
        if isinstance(birth, datetime):
            birth = birth.date()
        birth_date = birth if isinstance(birth, date) else None
        county = _text(values, "region_code")
        region = prefecture_code(county) if county else None
        return {
            "person_key": self.person_key(id_type, number) if number and id_type else None,
            "age_band": age_band_at(birth_date, at) if birth_date and at else None,
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
