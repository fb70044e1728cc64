"""The first read of the horizon, decoding only the records that can matter.

A province writes about 2.4 million ops records in a 15-minute horizon (heartbeats every
5 s from 4,178 connectors, source and landed counts per table and minute); decoding each
costs about 5 µs. The record keys (written by the capture agent's emitter and the lander)
say enough to leave most undecoded, with the same evaluation:

- heartbeats, key ``{"connector": …}``: before the recent window only the newest of each
  connector counts (the state keeps no more), i.e. the last of its key;
- landed counts, key ``<institution>|<table>|<window start>``: a later record of a key has
  the later landing, so only the last of each key counts; of those, an institution's are
  decoded newest window first until no remaining one can have a later commit (a commit is at
  most its window's end) or a later timestamp;
- source counts, key ``{"connector": …, "table": …, "window": …}`` (one-shot checks only):
  a minute ending at or before its institution's newest landed commit is landed, so it is
  not decoded.

Windows are the agent's and the lander's minute (``MINUTE_MS``, the only length they
write). Any record whose key does not parse as expected is decoded, so a foreign producer
costs time, never a wrong status.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from confluent_kafka import Message

from streamhub.health.model import Connector

MINUTE_MS = 60_000

Decode = Callable[[Message], dict[str, Any]]
Fed = Iterator[tuple[int, dict[str, Any]]]  # (Kafka timestamp, decoded record)

_CONNECTOR_KEY = b'{"connector": "'
_WINDOW_KEY = b'"window": '


def last_per_key(messages: Iterable[Message]) -> list[Message]:
    """The last message of each key, in the order read (keyless messages all kept)."""
    last: dict[bytes, tuple[int, Message]] = {}
    keyless: list[tuple[int, Message]] = []
    for index, message in enumerate(messages):
        key = message.key()
        if key is None:
            keyless.append((index, message))
        else:
            last[key] = (index, message)
    return [m for _, m in sorted([*last.values(), *keyless], key=lambda item: item[0])]


def landed_counts(messages: Iterable[Message], decode: Decode) -> Fed:
    """The records of ``messages`` (ops.landed_counts) that can be an institution's newest
    commit now or later in the horizon, decoded."""
    by_institution: dict[bytes, list[tuple[int, Message]]] = {}
    for message in last_per_key(messages):
        parsed = _landed_key(message.key())
        if parsed is None:
            yield stamp(message), decode(message)
            continue
        institution, window_start = parsed
        by_institution.setdefault(institution, []).append((window_start, message))
    for candidates in by_institution.values():
        kept: list[tuple[int, int]] = []  # (timestamp, commit) of the decoded ones
        for window_start, message in sorted(candidates, key=lambda c: c[0], reverse=True):
            bound = window_start + MINUTE_MS
            ts = stamp(message)
            if any(c >= bound and t >= ts for t, c in kept):
                continue  # its commit can neither beat nor outlive one already read
            record = decode(message)
            if "window_start_ms" in record and "landed_ts_ms" in record:
                window_ms = record.get("window_ms", MINUTE_MS)
                commit = min(record["window_start_ms"] + window_ms, record["landed_ts_ms"])
                kept.append((ts, commit))
            yield ts, record


def source_counts(
    messages: Iterable[Message],
    decode: Decode,
    institution_of: dict[str, str],
    floor_of: Callable[[str], int],
) -> Fed:
    """The records of ``messages`` (ops.source_counts) whose minute may not be landed yet,
    decoded: a minute ending at or before ``floor_of(institution)`` is skipped."""
    for message in messages:
        parsed = _counts_key(message.key())
        if parsed is not None:
            connector, window_start = parsed
            institution = institution_of.get(connector)
            if institution is not None and window_start + MINUTE_MS <= floor_of(institution):
                continue
        yield stamp(message), decode(message)


def stamp(message: Message) -> int:
    """The message's Kafka timestamp, ms."""
    return int(message.timestamp()[1])


def institutions_of(connectors: Iterable[Connector]) -> dict[str, str]:
    return {c.name: c.institution_id for c in connectors}


def _landed_key(key: bytes | None) -> tuple[bytes, int] | None:
    if key is None:
        return None
    institution, _, rest = key.partition(b"|")
    _, bar, start = rest.rpartition(b"|")
    if not bar or not start.isdigit():
        return None
    return institution, int(start)


def _counts_key(key: bytes | None) -> tuple[str, int] | None:
    """(connector, window start) of the emitter's sorted-JSON key; None for any other."""
    if key is None or not key.startswith(_CONNECTOR_KEY) or not key.endswith(b"}"):
        return None
    end = key.find(b'"', len(_CONNECTOR_KEY))
    at = key.rfind(_WINDOW_KEY)
    if end < 0 or at < 0:
        return None
    start = key[at + len(_WINDOW_KEY) : -1]
    if not start.isdigit():
        return None
    return key[len(_CONNECTOR_KEY) : end].decode("ascii", "replace"), int(start)
