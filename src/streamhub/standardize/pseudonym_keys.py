"""The keys behind every keyed token: a rotating person-linkage keyring and one identity key.

Two keys, because they must behave differently when they change (docs/decisions/
pseudonym-keys.md):

* **Person keys** (``pseudonym_keys`` in the secrets directory) make ``person_key``,
  ``doctor_key`` and ``verifier_key``. Records carry the id of the key used
  (``pseudonym_key_id``). ``streamhub pseudonym rotate`` appends a new key and makes it the
  active one: new records of the same person link across institutions under the new key,
  old records keep theirs, and the old keys stay in the ring until retired.
* **The identity key** (``pseudonym_identity_key``) makes the row identity (``record_id``,
  ``source_key``) and the institution-internal ids (patient_id, encounter_id, …). It must
  not change with a person-key rotation: an update of a row landed before the rotation
  would get another ``record_id`` and become a second live row, and links inside an
  institution (encounter.patient_id = patient.patient_id) would break between old and new
  rows. Changing it is a full re-key (re-snapshot, drop the old rows).

Ring file format, one key per line, the last line is the active key::

    k1 2026-12-06T01:00:00Z <secret>
    k2 2026-12-06T02:00:00Z <secret>

Without a ring file the single ``pseudonym_key`` secret is the ring, as key id ``k1``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from streamhub.config import Settings
from streamhub.core.clock import SYSTEM_CLOCK, Clock
from streamhub.standardize.errors import PseudonymKeyError

MIN_KEY_BYTES = 16  # below this an HMAC key is guessable; the stack generates 32 characters
NEW_KEY_BYTES = 32  # a rotated key: 256 random bits
RING_FILE = "pseudonym_keys"
IDENTITY_SECRET = "pseudonym_identity_key"  # noqa: S105 (a setting name)
LEGACY_KEY_ID = "k1"  # the single pseudonym_key of installations before the ring
TOKEN_HEX = 32  # identity tokens: 128 bits, as record_id always was
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
_SHA256_BLOCK = 64  # bytes; HMAC pads the key to one block of the hash
_IPAD = bytes(b ^ 0x36 for b in range(256))  # translate tables: key byte -> key byte ^ pad
_OPAD = bytes(b ^ 0x5C for b in range(256))


class PreparedMac:
    """HMAC-SHA256 under one key, keyed once: the two padded key blocks of RFC 2104 are hashed
    at construction, so a message costs two state copies instead of a new ``hmac.new`` (the
    same bytes as ``hmac.new(key, message, sha256)``; a token is minted for every record)."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, secret: bytes) -> None:
        if len(secret) > _SHA256_BLOCK:  # RFC 2104: a long key is hashed first
            secret = hashlib.sha256(secret).digest()
        block = secret.ljust(_SHA256_BLOCK, b"\0")
        self._inner = hashlib.sha256(block.translate(_IPAD))
        self._outer = hashlib.sha256(block.translate(_OPAD))

    def __repr__(self) -> str:
        return "PreparedMac(<hidden>)"

    def hexdigest(self, message: bytes) -> str:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


class PseudonymKey:
    """One HMAC key with its id; the secret is never printed (no ``__dict__``, hidden repr)."""

    __slots__ = ("_prepared", "_secret", "created", "key_id")

    def __init__(self, key_id: str, secret: bytes, created: str | None = None) -> None:
        if not _KEY_ID.match(key_id):
            raise PseudonymKeyError(
                f"key id {key_id!r} is not 1-32 letters, digits, '_', '.' or '-'"
            )
        if len(secret) < MIN_KEY_BYTES:
            raise PseudonymKeyError(
                f"pseudonym key {key_id} is shorter than {MIN_KEY_BYTES} bytes: use a random "
                "key (`streamhub stack up` generates one, `streamhub pseudonym rotate` another)"
            )
        self.key_id = key_id
        self._secret = secret
        self._prepared = PreparedMac(secret)
        self.created = created

    def __repr__(self) -> str:
        return f"PseudonymKey({self.key_id!r}, secret=<hidden>)"

    def mac(self) -> hmac.HMAC:
        """A fresh HMAC-SHA256 over this key, to ``update`` with the message."""
        return hmac.new(self._secret, digestmod=hashlib.sha256)

    def hexdigest(self, message: bytes) -> str:
        """HMAC-SHA256 of ``message`` under this key, in hex (the key is prepared once)."""
        return self._prepared.hexdigest(message)

    def fingerprint(self) -> str:
        """A short public name of the key's value (changes when the value does)."""
        h = self.mac()
        h.update(b"streamhub key fingerprint")
        return h.hexdigest()[:8]


class KeyRing:
    """The person-linkage keys in order of creation; the last one is active."""

    __slots__ = ("_keys",)

    def __init__(self, keys: list[PseudonymKey]) -> None:
        if not keys:
            raise PseudonymKeyError("the pseudonym keyring holds no key")
        ids = [k.key_id for k in keys]
        if len(set(ids)) != len(ids):
            raise PseudonymKeyError(f"the pseudonym keyring repeats a key id: {ids}")
        self._keys = list(keys)

    def __iter__(self) -> Iterator[PseudonymKey]:
        return iter(self._keys)

    def __repr__(self) -> str:
        return f"KeyRing({[k.key_id for k in self._keys]}, active={self.active.key_id!r})"

    @property
    def active(self) -> PseudonymKey:
        return self._keys[-1]

    def get(self, key_id: str) -> PseudonymKey:
        for key in self._keys:
            if key.key_id == key_id:
                return key
        raise PseudonymKeyError(
            f"no pseudonym key {key_id!r} in the ring (it holds "
            f"{', '.join(k.key_id for k in self._keys)}); was it retired?"
        )

    def next_id(self) -> str:
        numbers = [int(k.key_id[1:]) for k in self._keys if re.fullmatch(r"k\d+", k.key_id)]
        return f"k{max(numbers, default=0) + 1}"


def ring_path(settings: Settings) -> Path:
    return settings.secrets_dir / RING_FILE


def parse_ring(text: str, where: str) -> KeyRing:
    keys = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 3:
            # the line holds a secret: say where, never what
            raise PseudonymKeyError(
                f"{where} line {number} is not '<key_id> <created> <secret>'; repair the file "
                "(keep its mode 600)"
            )
        keys.append(PseudonymKey(parts[0], parts[2].encode("utf-8"), parts[1]))
    return KeyRing(keys)


def load_ring(settings: Settings) -> KeyRing:
    """The ring file if there is one, else the single ``pseudonym_key`` as ``k1``."""
    path = ring_path(settings)
    if path.is_file():
        return parse_ring(path.read_text(encoding="utf-8"), str(path))
    secret = settings.require_secret("pseudonym_key").encode("utf-8")
    return KeyRing([PseudonymKey(LEGACY_KEY_ID, secret, None)])


def load_identity_key(settings: Settings) -> PseudonymKey:
    """The identity key; its id is its fingerprint, so a full re-key shows as a new id."""
    secret = settings.require_secret(IDENTITY_SECRET).encode("utf-8")
    probe = PseudonymKey("i", secret)
    return PseudonymKey(f"i-{probe.fingerprint()}", secret)


def _write_owner_only(path: Path, text: str) -> None:
    """Replace ``path`` atomically with a 0600 file (created 0600, never world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)


def _render(ring: KeyRing) -> str:
    lines = ["# streamhub pseudonym keys: <key_id> <created> <secret>; the last line is active"]
    lines += [f"{k.key_id} {k.created or '-'} {k._secret.decode('utf-8')}" for k in ring]
    return "\n".join(lines) + "\n"


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rotate(settings: Settings, clock: Clock = SYSTEM_CLOCK) -> PseudonymKey:
    """Append a new random key to the ring and make it active; returns it (id only to show).

    The first rotation of an installation writes the single ``pseudonym_key`` into the ring
    as ``k1`` so that records keyed before stay verifiable.
    """
    path = ring_path(settings)
    ring = load_ring(settings)
    if not path.is_file():
        legacy = settings.secrets_dir / "pseudonym_key"
        created = _stamp(legacy.stat().st_mtime) if legacy.is_file() else None
        ring = KeyRing([PseudonymKey(k.key_id, k._secret, created) for k in ring])
    new = PseudonymKey(
        ring.next_id(), secrets.token_urlsafe(NEW_KEY_BYTES).encode(), _stamp(clock.time())
    )
    _write_owner_only(path, _render(KeyRing([*ring, new])))
    return new


def retire(settings: Settings, key_id: str) -> None:
    """Remove a key that is not active: records keyed with it can no longer be re-derived."""
    path = ring_path(settings)
    ring = load_ring(settings)
    key = ring.get(key_id)
    if key is ring.active:
        raise PseudonymKeyError(
            f"{key_id} is the active pseudonym key; rotate first, then retire it"
        )
    if not path.is_file():
        raise PseudonymKeyError(f"no ring file {path}: nothing to retire")
    _write_owner_only(path, _render(KeyRing([k for k in ring if k.key_id != key_id])))


class IdentityTokens:
    """Keyed tokens of row identities and institution-internal ids (the identity key).

    ``token(kind, institution, value)``: the same value of the same kind in the same
    institution always gives the same token, so links inside an institution still join;
    another institution, kind or key gives an unrelated one. Without the key, enumerating
    patient numbers or ID numbers does not reverse a token.
    """

    __slots__ = ("_inner", "_outer", "key_id")

    def __init__(self, key: PseudonymKey) -> None:
        self.key_id = key.key_id
        # the key's prepared HMAC states, copied per token (see PreparedMac)
        self._inner = key._prepared._inner
        self._outer = key._prepared._outer

    def __repr__(self) -> str:
        return f"IdentityTokens(key_id={self.key_id!r})"

    @classmethod
    def from_settings(cls, settings: Settings) -> IdentityTokens:
        return cls(load_identity_key(settings))

    def token(self, kind: str, institution_id: str, value: str) -> str:
        # HMAC-SHA256 as PreparedMac.hexdigest, inlined: several tokens per record
        inner = self._inner.copy()
        inner.update("\x1f".join((kind, institution_id, value)).encode("utf-8"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()[:TOKEN_HEX]

    def record_id(self, institution_id: str, database: str, table: str, key_json: str) -> str:
        """The std record's id: the same source row always gets the same one."""
        return self.token("record", institution_id, f"{database}\x1f{table}\x1f{key_json}")

    def source_key(self, institution_id: str, database: str, table: str, key_json: str) -> str:
        """The source primary key as it leaves the standardizer: a token, never the key."""
        return self.token("source_key", institution_id, f"{database}\x1f{table}\x1f{key_json}")
