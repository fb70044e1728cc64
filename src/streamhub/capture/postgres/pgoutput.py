"""Decoder of pgoutput protocol version 1 messages (PostgreSQL "Logical Replication
Message Formats") into small frozen dataclasses. Pure: bytes in, messages out.

Tuple values stay as the server sent them: text bytes, ``None`` for NULL, or
``UNCHANGED_TOAST`` when a toasted value did not change and was not sent.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from streamhub.capture.errors import CaptureError

# microseconds between 1970-01-01 and PostgreSQL's epoch 2000-01-01 (UTC)
_PG_EPOCH_US: Final = 946_684_800_000_000


class UnchangedToast:
    """Marks a toasted value the server did not send because it did not change."""

    _instance: UnchangedToast | None = None

    def __new__(cls) -> UnchangedToast:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNCHANGED_TOAST"


UNCHANGED_TOAST: Final = UnchangedToast()

TupleValue = bytes | UnchangedToast | None
TupleData = tuple[TupleValue, ...]


@dataclass(frozen=True)
class Begin:
    final_lsn: int
    commit_ts_ms: int
    xid: int


@dataclass(frozen=True)
class Commit:
    flags: int
    commit_lsn: int
    end_lsn: int
    commit_ts_ms: int


@dataclass(frozen=True)
class Origin:
    commit_lsn: int
    name: str


@dataclass(frozen=True)
class RelationColumn:
    key: bool  # part of the replica identity (every column under REPLICA IDENTITY FULL)
    name: str
    type_oid: int
    type_modifier: int


@dataclass(frozen=True)
class Relation:
    relation_id: int
    namespace: str
    name: str
    replica_identity: str  # relreplident: d(efault), n(othing), f(ull), i(ndex)
    columns: tuple[RelationColumn, ...]


@dataclass(frozen=True)
class Type:
    type_oid: int
    namespace: str
    name: str


@dataclass(frozen=True)
class Insert:
    relation_id: int
    new: TupleData


@dataclass(frozen=True)
class Update:
    relation_id: int
    old_kind: Literal["K", "O"] | None  # K: old key (key changed), O: old row (FULL)
    old: TupleData | None
    new: TupleData


@dataclass(frozen=True)
class Delete:
    relation_id: int
    old_kind: Literal["K", "O"]
    old: TupleData


@dataclass(frozen=True)
class Truncate:
    options: int
    relation_ids: tuple[int, ...]

    @property
    def cascade(self) -> bool:
        return bool(self.options & 1)

    @property
    def restart_identity(self) -> bool:
        return bool(self.options & 2)


@dataclass(frozen=True)
class LogicalMessage:
    transactional: bool
    lsn: int
    prefix: str
    content: bytes


Message = (
    Begin | Commit | Origin | Relation | Type | Insert | Update | Delete | Truncate | LogicalMessage
)

_LSN: Final = re.compile(r"([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})")
_NAMES: Final = {
    b"B": "Begin",
    b"C": "Commit",
    b"O": "Origin",
    b"R": "Relation",
    b"Y": "Type",
    b"I": "Insert",
    b"U": "Update",
    b"D": "Delete",
    b"T": "Truncate",
    b"M": "Message",
}


def format_lsn(lsn: int) -> str:
    """An LSN as PostgreSQL prints it: ``16/B374D848``."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_lsn(text: str) -> int:
    """``X/Y`` as an integer; a CaptureError for anything else (e.g. a corrupt stored position)."""
    match = _LSN.fullmatch(text)
    if match is None:
        raise CaptureError(
            f"{text!r} is not a PostgreSQL LSN (expected two hex numbers like 0/16B3748)"
        )
    return (int(match[1], 16) << 32) | int(match[2], 16)


def pg_timestamp_ms(microseconds: int) -> int:
    """A pgoutput timestamp (µs since 2000-01-01 UTC) as milliseconds since the Unix epoch."""
    return (microseconds + _PG_EPOCH_US) // 1000


class _Cursor:
    """Reads big-endian fields from a payload; every error names the byte offset."""

    def __init__(self, data: bytes, kind: str) -> None:
        self.data = data
        self.kind = kind
        self.pos = 1  # the type byte is already read

    def fail(self, what: str, at: int | None = None) -> CaptureError:
        offset = self.pos if at is None else at
        return CaptureError(
            f"malformed pgoutput {self.kind} message at byte {offset} of {len(self.data)}: {what}"
        )

    def take(self, size: int, what: str) -> bytes:
        if self.pos + size > len(self.data):
            raise self.fail(f"{what} needs {size} bytes, {len(self.data) - self.pos} left")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def int8(self, what: str) -> int:
        return self.take(1, what)[0]

    def int16(self, what: str) -> int:
        value: int = struct.unpack(">h", self.take(2, what))[0]
        return value

    def int32(self, what: str) -> int:
        value: int = struct.unpack(">i", self.take(4, what))[0]
        return value

    def uint32(self, what: str) -> int:
        value: int = struct.unpack(">I", self.take(4, what))[0]
        return value

    def int64(self, what: str) -> int:
        value: int = struct.unpack(">q", self.take(8, what))[0]
        return value

    def uint64(self, what: str) -> int:
        value: int = struct.unpack(">Q", self.take(8, what))[0]
        return value

    def string(self, what: str) -> str:
        end = self.data.find(b"\x00", self.pos)
        if end < 0:
            raise self.fail(f"{what} has no terminating NUL")
        start = self.pos
        raw = self.data[start:end]
        self.pos = end + 1
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.fail(f"{what} is not UTF-8", at=start + exc.start) from None

    def tuple_data(self) -> TupleData:
        count = self.int16("column count")
        if count < 0:
            raise self.fail(f"negative column count {count}", at=self.pos - 2)
        values: list[TupleValue] = []
        for index in range(count):
            at = self.pos
            tag = self.take(1, f"column {index} kind")
            if tag == b"n":
                values.append(None)
            elif tag == b"u":
                values.append(UNCHANGED_TOAST)
            elif tag == b"t":
                size = self.int32(f"column {index} length")
                if size < 0:
                    raise self.fail(f"column {index} has negative length {size}", at=self.pos - 4)
                values.append(self.take(size, f"column {index} value"))
            else:
                raise self.fail(f"column {index} kind {tag!r} is not n, u or t", at=at)
        return tuple(values)

    def old_tag(self) -> Literal["K", "O"]:
        at = self.pos
        tag = self.take(1, "tuple kind")
        if tag == b"K":
            return "K"
        if tag == b"O":
            return "O"
        raise self.fail(f"old tuple kind {tag!r} is not K or O", at=at)

    def expect_new(self) -> None:
        at = self.pos
        tag = self.take(1, "tuple kind")
        if tag != b"N":
            raise self.fail(f"expected new tuple 'N', found {tag!r}", at=at)

    def done(self) -> None:
        if self.pos != len(self.data):
            raise self.fail(f"{len(self.data) - self.pos} unexpected trailing bytes")


def decode(payload: bytes) -> Message:
    """One pgoutput message; a CaptureError naming the byte offset if it is malformed."""
    fast = _FAST.get(payload[0]) if payload else None
    if fast is not None:
        try:
            return fast(payload)
        except (_Malformed, struct.error, IndexError):
            pass  # the checked decoder below names the byte and the fault
    if not payload:
        raise CaptureError("malformed pgoutput message at byte 0 of 0: empty payload")
    tag = payload[:1]
    kind = _NAMES.get(tag)
    if kind is None:
        raise CaptureError(
            f"malformed pgoutput message at byte 0 of {len(payload)}: unknown message type "
            f"{tag!r} (only protocol version 1 without streaming is supported)"
        )
    cur = _Cursor(payload, kind)
    message = _DECODERS[tag](cur)
    cur.done()
    return message


def _begin(cur: _Cursor) -> Begin:
    final_lsn = cur.uint64("final LSN")
    ts = cur.int64("commit timestamp")
    return Begin(final_lsn, pg_timestamp_ms(ts), cur.uint32("xid"))


def _commit(cur: _Cursor) -> Commit:
    flags = cur.int8("flags")
    commit_lsn = cur.uint64("commit LSN")
    end_lsn = cur.uint64("end LSN")
    return Commit(flags, commit_lsn, end_lsn, pg_timestamp_ms(cur.int64("commit timestamp")))


def _origin(cur: _Cursor) -> Origin:
    return Origin(cur.uint64("origin commit LSN"), cur.string("origin name"))


def _relation(cur: _Cursor) -> Relation:
    relation_id = cur.uint32("relation id")
    namespace = cur.string("namespace")
    name = cur.string("relation name")
    at = cur.pos
    identity = chr(cur.int8("replica identity"))
    if identity not in "dnfi":
        raise cur.fail(f"replica identity {identity!r} is not d, n, f or i", at=at)
    count = cur.int16("column count")
    columns = []
    for index in range(count):
        flags = cur.int8(f"column {index} flags")
        columns.append(
            RelationColumn(
                key=bool(flags & 1),
                name=cur.string(f"column {index} name"),
                type_oid=cur.uint32(f"column {index} type"),
                type_modifier=cur.int32(f"column {index} type modifier"),
            )
        )
    return Relation(relation_id, namespace, name, identity, tuple(columns))


def _type(cur: _Cursor) -> Type:
    return Type(cur.uint32("type id"), cur.string("namespace"), cur.string("type name"))


def _insert(cur: _Cursor) -> Insert:
    relation_id = cur.uint32("relation id")
    cur.expect_new()
    return Insert(relation_id, cur.tuple_data())


def _update(cur: _Cursor) -> Update:
    relation_id = cur.uint32("relation id")
    old_kind: Literal["K", "O"] | None = None
    old = None
    if cur.data[cur.pos : cur.pos + 1] in (b"K", b"O"):
        old_kind = cur.old_tag()
        old = cur.tuple_data()
    cur.expect_new()
    return Update(relation_id, old_kind, old, cur.tuple_data())


def _delete(cur: _Cursor) -> Delete:
    relation_id = cur.uint32("relation id")
    old_kind = cur.old_tag()
    return Delete(relation_id, old_kind, cur.tuple_data())


def _truncate(cur: _Cursor) -> Truncate:
    count = cur.int32("relation count")
    if count < 0:
        raise cur.fail(f"negative relation count {count}", at=cur.pos - 4)
    options = cur.int8("options")
    ids = tuple(cur.uint32(f"relation {i} id") for i in range(count))
    return Truncate(options, ids)


def _message(cur: _Cursor) -> LogicalMessage:
    flags = cur.int8("flags")
    lsn = cur.uint64("message LSN")
    prefix = cur.string("prefix")
    size = cur.int32("content length")
    if size < 0:
        raise cur.fail(f"negative content length {size}", at=cur.pos - 4)
    return LogicalMessage(bool(flags & 1), lsn, prefix, cur.take(size, "content"))


_DECODERS: Final[dict[bytes, Callable[[_Cursor], Message]]] = {
    b"B": _begin,
    b"C": _commit,
    b"O": _origin,
    b"R": _relation,
    b"Y": _type,
    b"I": _insert,
    b"U": _update,
    b"D": _delete,
    b"T": _truncate,
    b"M": _message,
}


# --- row changes, the bulk of the stream: one pass without per-field checks -------------
# Each fast decoder returns what the checked one above returns for a well-formed message
# and raises on anything else, and the checked decoder then names the fault.

_INT16 = struct.Struct(">h").unpack_from
_INT32 = struct.Struct(">i").unpack_from
_UINT32 = struct.Struct(">I").unpack_from
_N, _K, _O, _T, _NULL, _TOAST = b"NKOtnu"


class _Malformed(Exception):
    """Not well-formed: decode again, checked, for the error message."""


def _fast_tuple(data: bytes, pos: int) -> tuple[TupleData, int]:
    (count,) = _INT16(data, pos)
    if count < 0:
        raise _Malformed
    pos += 2
    end = len(data)
    values: list[TupleValue] = []
    append = values.append
    for _ in range(count):
        tag = data[pos]
        if tag == _T:
            (size,) = _INT32(data, pos + 1)
            start = pos + 5
            pos = start + size
            if size < 0 or pos > end:
                raise _Malformed
            append(data[start:pos])
        elif tag == _NULL:
            append(None)
            pos += 1
        elif tag == _TOAST:
            append(UNCHANGED_TOAST)
            pos += 1
        else:
            raise _Malformed
    return tuple(values), pos


def _fast_insert(data: bytes) -> Insert:
    if data[5] != _N:
        raise _Malformed
    new, pos = _fast_tuple(data, 6)
    if pos != len(data):
        raise _Malformed
    return Insert(_UINT32(data, 1)[0], new)


def _fast_update(data: bytes) -> Update:
    tag = data[5]
    old_kind: Literal["K", "O"] | None = None
    old = None
    pos = 5
    if tag in (_K, _O):
        old_kind = "K" if tag == _K else "O"
        old, pos = _fast_tuple(data, 6)
    if data[pos] != _N:
        raise _Malformed
    new, pos = _fast_tuple(data, pos + 1)
    if pos != len(data):
        raise _Malformed
    return Update(_UINT32(data, 1)[0], old_kind, old, new)


def _fast_delete(data: bytes) -> Delete:
    tag = data[5]
    if tag not in (_K, _O):
        raise _Malformed
    old, pos = _fast_tuple(data, 6)
    if pos != len(data):
        raise _Malformed
    return Delete(_UINT32(data, 1)[0], "K" if tag == _K else "O", old)


_FAST: Final[dict[int, Callable[[bytes], Message]]] = {
    ord("I"): _fast_insert,
    ord("U"): _fast_update,
    ord("D"): _fast_delete,
}
