"""Who may sign in and see what: roles, the users file, password hashes, sessions.

Passwords are stored as ``pbkdf2_sha256$<iterations>$<salt b64>$<hash b64>`` in a YAML
users file (written by ``streamhub users add``), re-read when it changes so that a user
added while the server runs can sign in. Sessions live in memory only: a restart signs
everybody out, which is acceptable for a console and keeps no tokens on disk.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from streamhub.codes import credit_code
from streamhub.core.clock import SYSTEM_CLOCK, Clock
from streamhub.web.errors import InvalidUserError, SignInBusyError, UsersFileError

# The pages each role may open, in the order of its navigation (the first is its home).
ROLE_PAGES: dict[str, tuple[str, ...]] = {
    "official": ("dashboard",),
    "operator": ("dashboard", "console"),
    "developer": ("catalog",),
    # bound to one institution (the users file's institution_id): its work orders and quality
    "institution_contact": ("quality",),
}
ROLES = tuple(ROLE_PAGES)
PAGES = ("dashboard", "console", "catalog", "quality")
# A page that is part of another: whoever may open the other may open it (质控 is part of
# the operators' console; institution contacts open it alone).
PART_OF: dict[str, str] = {"quality": "console"}
CONTACT = "institution_contact"

SCHEME = "pbkdf2_sha256"
ITERATIONS = 600_000  # OWASP's 2023 figure for PBKDF2-HMAC-SHA256
MIN_PASSWORD_LENGTH = 8
# Hashes at a time: a burst of sign-ins cannot take every thread the routes share.
HASH_SLOTS = 2
HASH_WAIT_S = 5.0
SESSION_MAX_S = 12 * 3600.0  # absolute lifetime, however active the session is
_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


def allowed(role: str, page: str) -> bool:
    pages = ROLE_PAGES.get(role, ())
    return page in pages or PART_OF.get(page, "") in pages


def check_binding(name: str, role: str, institution_id: str | None) -> str | None:
    """The complaint about a user's institution binding, None when it is right: an
    institution contact is bound to exactly one institution (its unified social credit
    code), and no other role is bound to one."""
    if role == CONTACT:
        if not institution_id:
            return (
                f"user {name} is an institution contact without an institution: give its "
                "institution_id (the institution's unified social credit code)"
            )
        if not credit_code.is_valid(institution_id):
            return (
                f"user {name}: institution_id is not a unified social credit code (18 "
                "characters with a valid check character)"
            )
    elif institution_id:
        return (
            f"user {name} has role {role}, which is not bound to an institution: drop "
            "its institution_id"
        )
    return None


def hash_password(password: str, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    encode = base64.b64encode
    return f"{SCHEME}${iterations}${encode(salt).decode()}${encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches; a malformed ``stored`` value matches nothing."""
    try:
        scheme, iterations, salt, expected = stored.split("$")
        if scheme != SCHEME:
            return False
        digest = hashlib.pbkdf2_hmac(
            "sha256", password.encode("utf-8"), base64.b64decode(salt), int(iterations)
        )
        return hmac.compare_digest(digest, base64.b64decode(expected))
    except ValueError:  # also binascii.Error
        return False


def check_new_user(name: str, role: str, password: str, institution_id: str | None = None) -> None:
    if not _NAME.match(name):
        raise InvalidUserError(f"user name {name!r}: use 1-64 letters, digits, '_', '.' or '-'")
    if role not in ROLE_PAGES:
        raise InvalidUserError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    complaint = check_binding(name, role, institution_id)
    if complaint is not None:
        raise InvalidUserError(complaint)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidUserError(
            f"the password of {name} is {len(password)} characters; use at least "
            f"{MIN_PASSWORD_LENGTH}"
        )


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str
    institution_id: str | None = None  # an institution contact's one institution


class UserStore:
    """The users file, re-read when its modification time changes."""

    def __init__(
        self, path: Path, hash_slots: int = HASH_SLOTS, hash_wait_s: float = HASH_WAIT_S
    ) -> None:
        self.path = path
        self.hash_wait_s = hash_wait_s
        self._lock = threading.Lock()
        self._hashing = threading.BoundedSemaphore(hash_slots)
        self._stamp: tuple[int, int] | None = None
        self._users: dict[str, User] = {}

    def users(self) -> dict[str, User]:
        with self._lock:
            try:
                stat = self.path.stat()
            except FileNotFoundError:
                self._stamp, self._users = None, {}
                return {}
            stamp = (stat.st_mtime_ns, stat.st_size)
            if stamp != self._stamp:
                self._users = read_users(self.path)
                self._stamp = stamp
            return dict(self._users)

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when the password matches; at most ``hash_slots`` hashes run at once
        (:class:`SignInBusyError` after waiting ``hash_wait_s`` for a slot)."""
        users = self.users()
        user = users.get(name)
        if not self._hashing.acquire(timeout=self.hash_wait_s):
            raise SignInBusyError("too many sign-ins are being checked at once: try again soon")
        try:
            if user is None:
                # as slow as a wrong password (same hash cost): names cannot be probed by timing
                for decoy in list(users.values())[:1]:
                    verify_password(password, decoy.password_hash)
                return None
            return user if verify_password(password, user.password_hash) else None
        finally:
            self._hashing.release()


def read_users(path: Path) -> dict[str, User]:
    try:
        document: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UsersFileError(f"cannot read the users file {path}: {exc}") from exc
    entries = document.get("users") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise UsersFileError(f"{path}: expected a top-level 'users:' list")
    users: dict[str, User] = {}
    for index, entry in enumerate(entries, start=1):
        try:
            institution = entry.get("institution_id")
            user = User(
                str(entry["name"]),
                str(entry["role"]),
                str(entry["password_hash"]),
                None if institution is None else str(institution),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise UsersFileError(
                f"{path}: user #{index} needs name, role and password_hash "
                "(add users with `streamhub users add`)"
            ) from exc
        if user.role not in ROLE_PAGES:
            raise UsersFileError(
                f"{path}: user {user.name} has role {user.role!r}; expected one of "
                f"{', '.join(ROLES)}"
            )
        complaint = check_binding(user.name, user.role, user.institution_id)
        if complaint is not None:
            raise UsersFileError(f"{path}: {complaint}")
        users[user.name] = user
    return users


def write_users(path: Path, users: dict[str, User]) -> None:
    """Replace the file atomically, readable by its owner only (it holds password hashes)."""
    document = {
        "users": [
            {
                "name": u.name,
                "role": u.role,
                "password_hash": u.password_hash,
                **({"institution_id": u.institution_id} if u.institution_id else {}),
            }
            for u in sorted(users.values(), key=lambda u: u.name)
        ]
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            yaml.safe_dump(document, out, allow_unicode=True, sort_keys=False)
        temporary.replace(path)
    except OSError as exc:
        raise UsersFileError(f"cannot write the users file {path}: {exc}") from exc


@dataclass
class Session:
    token: str
    user: str
    role: str
    last_seen: float
    opened: float = 0.0
    institution_id: str | None = None  # an institution contact's: all it may see

    @property
    def pages(self) -> tuple[str, ...]:
        return ROLE_PAGES[self.role]


class SessionStore:
    """Server-side sessions by random token, expiring after ``idle_s`` without a request and
    ``max_s`` after sign-in whatever the activity (a polling tab does not live for ever)."""

    def __init__(self, idle_s: float, clock: Clock = SYSTEM_CLOCK, max_s: float = SESSION_MAX_S
                 ) -> None:  # fmt: skip
        self.idle_s = idle_s
        self.max_s = max_s
        self.clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def open(self, user: str, role: str, institution_id: str | None = None) -> Session:
        now = self.clock.time()
        session = Session(secrets.token_urlsafe(32), user, role, now, now, institution_id)
        with self._lock:
            self._drop_expired()
            self._sessions[session.token] = session
        return session

    def touch(self, token: str | None) -> Session | None:
        """The live session of ``token``, its idle time restarted; None when gone or expired."""
        with self._lock:
            session = self._live(token)
            if session is not None:
                session.last_seen = self.clock.time()
            return session

    def peek(self, token: str | None) -> Session | None:
        """Like :meth:`touch` without counting as activity (the audit trail's look-up)."""
        with self._lock:
            return self._live(token)

    def close(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)

    def expires_at(self, session: Session) -> float:
        return min(session.last_seen + self.idle_s, session.opened + self.max_s)

    def _live(self, token: str | None) -> Session | None:
        session = self._sessions.get(token or "")
        if session is None:
            return None
        if self.clock.time() >= self.expires_at(session):
            del self._sessions[session.token]
            return None
        return session

    def _drop_expired(self) -> None:
        now = self.clock.time()
        for token in [t for t, s in self._sessions.items() if now >= self.expires_at(s)]:
            del self._sessions[token]
