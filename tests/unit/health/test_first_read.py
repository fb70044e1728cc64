"""The first read of the horizon decodes only the records that can matter, and the states
made from them equal those made from every record."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

from streamhub.health import first_read
from streamhub.health.ops_state import OpsState

from .builders import INST

OTHER = "12350203000000011X"


@dataclass
class Msg:
    """What the first read uses of a confluent-kafka message (no broker involved)."""

    k: bytes | None
    ts: int
    record: dict[str, Any]

    def key(self) -> bytes | None:
        return self.k

    def timestamp(self) -> tuple[int, int]:
        return (1, self.ts)


def decoder() -> tuple[list[Msg], Any]:
    decoded: list[Msg] = []

    def decode(message: Any) -> dict[str, Any]:
        decoded.append(message)
        return dict(message.record)

    return decoded, decode


def landed_msg(institution: str, table: str, start: int, landed: int) -> Msg:
    record = {
        "institution_id": institution,
        "table": table,
        "window_start_ms": start,
        "window_ms": 60_000,
        "landed_ts_ms": landed,
    }
    return Msg(f"{institution}|{table}|{start}".encode(), landed + 20, record)


def test_the_last_of_each_key_in_the_order_read() -> None:
    a1, b1, a2, none = Msg(b"a", 1, {}), Msg(b"b", 2, {}), Msg(b"a", 3, {}), Msg(None, 4, {})
    assert first_read.last_per_key([a1, b1, a2, none]) == [b1, a2, none]


def test_landed_counts_decode_few_and_give_the_same_newest_commits() -> None:
    rng = random.Random(18)
    messages = []
    for minute in range(15):
        start = minute * 60_000
        for institution in (INST, OTHER):
            for table in ("public.a", "public.b", "public.c"):
                for flush in range(rng.randint(1, 3)):
                    messages.append(
                        landed_msg(institution, table, start, start + 20_000 * flush + 5)
                    )
    messages.sort(key=lambda m: m.ts)
    messages.append(
        Msg(
            b"foreign",
            10**6,
            {"institution_id": INST, "window_start_ms": 0, "window_ms": 60_000, "landed_ts_ms": 1},
        )
    )
    decoded, decode = decoder()
    state, whole = OpsState(), OpsState()
    for ts, record in first_read.landed_counts(messages, decode):
        state.landed(ts, record)
    for message in messages:
        whole.landed(message.ts, message.record)
    for since in (0, 300_000, 800_000):
        assert state.landed_commits(since) == whole.landed_commits(since)
    assert len(decoded) < 12  # of about 180
    assert messages[-1] in decoded  # a key of another form is always decoded


def counts_msg(connector: str, start: int, changes: int) -> Msg:
    key = json.dumps({"connector": connector, "table": "public.a", "window": start}, sort_keys=True)
    record = {
        "institution_id": INST,
        "window_start_ms": start,
        "window_ms": 60_000,
        "inserts": changes,
        "updates": 0,
        "deletes": 0,
        "row_count": None,
    }
    return Msg(key.encode(), start + 65_000, record)


def test_source_counts_of_landed_minutes_are_not_decoded() -> None:
    messages = [counts_msg("h01-his", start, 1) for start in range(0, 900_000, 60_000)]
    messages.append(counts_msg("unknown-his", 0, 1))  # nobody's connector: decoded
    decoded, decode = decoder()
    floor = 780_000  # the newest landed commit: minutes ending by then are landed
    fed = list(first_read.source_counts(messages, decode, {"h01-his": INST}, lambda _: floor))
    # 720,000's minute ends at the floor: landed
    assert [r["window_start_ms"] for _, r in fed] == [780_000, 840_000, 0]
    assert len(decoded) == 3


def test_keys_parse_only_in_the_writers_forms() -> None:
    assert first_read._landed_key(b"X|public.t|1800000000000") == (b"X", 1800000000000)
    assert first_read._landed_key(b"X|a|b|60000") == (b"X", 60000)
    assert first_read._landed_key(b"X|public.t|soon") is None
    assert first_read._landed_key(None) is None
    key = json.dumps({"connector": "h-1", "table": "t", "window": 60000}, sort_keys=True)
    assert first_read._counts_key(key.encode()) == ("h-1", 60000)
    at = json.dumps({"connector": "h-1", "row_count_at": "0/1", "table": "t"}, sort_keys=True)
    assert first_read._counts_key(at.encode()) is None
