"""Checkpoints: restoring the last one and folding the inputs after its offsets gives the
state and the verdicts of folding everything, however many incremental checkpoints came
before and whichever of them failed to be written."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from streamhub.core.clock import ManualClock
from streamhub.core.topic_names import DLQ_STANDARDIZE, LANDED_COUNTS, SOURCE_COUNTS
from streamhub.reconcile.app import Runtime
from streamhub.reconcile.checkpoint import (
    Blobs,
    Head,
    bucket_name,
    decode_blobs,
    encode_blobs,
    pack,
    unpack,
)
from streamhub.reconcile.errors import SnapshotFormatError, StateTopicError
from streamhub.reconcile.feed import Feed
from streamhub.reconcile.metrics import ReconcileMetrics
from streamhub.reconcile.reconciler import Reconciler
from streamhub.reconcile.result import Result
from streamhub.reconcile.snapshot import snapshot_state
from tests.unit.reconcile.helpers import GRACE, INST, MINUTE, T0, clock_at, reconciler

Input = tuple[str, int, dict[str, Any], int]  # topic, partition, decoded value, arrival ms


class JsonFeed(Feed):
    """A feed whose messages are the decoded values as JSON (no registry)."""

    def decode(
        self, topic: str, partition: int, offset: int, value: bytes | None
    ) -> dict[str, Any] | None:
        return None if value is None else dict(json.loads(value))


class MemoryStore:
    """StateTopic's contract in memory: parts by (name, generation), the last head."""

    def __init__(self, fail_writes: int = 0) -> None:
        self.head: Head | None = None
        self.parts: dict[tuple[str, int], list[bytes]] = {}
        self.fail_writes = fail_writes
        self.written: list[Head] = []

    def write(self, head: Head, blobs: Blobs) -> None:
        if self.fail_writes:
            self.fail_writes -= 1
            raise StateTopicError("broker down")
        for name, parts in blobs.items():
            self.parts[(name, head.generation)] = parts
        self.head = head
        self.written.append(head)

    def load(self) -> tuple[Head, Blobs]:
        assert self.head is not None
        return self.head, {n: self.parts[(n, g)] for n, (g, _) in self.head.blobs.items()}


def inputs(minutes: int, seed: int) -> list[Input]:
    """Every kind of input, out of order and duplicated, over ``minutes`` minutes."""
    rng = random.Random(seed)
    out: list[Input] = []
    flushes: list[dict[str, Any]] = []
    for minute in range(minutes):
        start = T0 + minute * MINUTE
        for t in range(4):
            table = f"public.t{t}"
            n = rng.randint(1, 6)
            versions = [minute * 1000 + t * 10 + v for v in range(n)]
            source = {
                "connector": "c1",
                "institution_id": INST,
                "system": "his",
                "database": "hisdb",
                "table": table,
                "window_start_ms": start,
                "window_ms": MINUTE,
                "inserts": n,
                "updates": 0,
                "deletes": 0,
                "snapshot_reads": 0,
                "row_count": None,
                "row_count_position": None,
                "emitted_ts_ms": start + MINUTE + rng.randint(1, 9_000),
            }
            kept = versions[: n - 1] if rng.random() < 0.2 else versions  # one not landed
            landed = {
                "institution_id": INST,
                "system": "his",
                "table": table,
                "entity": "patient",
                "window_start_ms": start,
                "window_ms": MINUTE,
                "upserts": len(kept),
                "deletes": 0,
                "landed_ts_ms": start + MINUTE,
                "versions": kept,
            }
            arrive = start + MINUTE + 1_000
            flushes.append(landed)
            batch: list[Input] = [
                (LANDED_COUNTS, t % 2, landed, arrive),
                (SOURCE_COUNTS, t % 3, source, arrive),
            ]
            if rng.random() < 0.3:
                batch.append((LANDED_COUNTS, 1, landed, arrive))  # a replayed flush
            if kept is not versions and rng.random() < 0.5:
                batch.append((DLQ_STANDARDIZE, 0, letter(table, start, versions[-1], rng), arrive))
            rng.shuffle(batch)
            out += batch
        if minute > 5 and rng.random() < 0.3:  # late evidence for an older, judged window
            late = {**source, "window_start_ms": start - 5 * MINUTE, "inserts": 9}
            out.append((SOURCE_COUNTS, 2, {**late, "emitted_ts_ms": start + MINUTE}, arrive))
        if minute > 5 and rng.random() < 0.4:  # a flush of minutes ago, landed again
            out.append((LANDED_COUNTS, 0, rng.choice(flushes[:-16]), arrive))
    return out


def letter(table: str, start: int, version: int, rng: random.Random) -> dict[str, Any]:
    placed = rng.random() < 0.7
    return {
        "stage": "standardize",
        "reason": "refused",
        "error_type": "StandardizeError",
        "institution_id": INST,
        "table": f"hisdb.{table}",
        "original_topic": "cdc.raw.his",
        "original_partition": 0,
        "original_offset": version,
        "original_key": None,
        "original_value": None,
        "failed_ts_ms": start + MINUTE,
        "commit_ts_ms": start + 1_000 if placed else None,
        "version": version,
    }


class Run:
    """A runtime over a reconciler, fed message by message with judging ticks between."""

    def __init__(
        self, clock: ManualClock, store: MemoryStore | None = None, rec: Reconciler | None = None
    ) -> None:
        rec = rec or reconciler(clock, retention_ms=15 * MINUTE)
        feed = JsonFeed(rec, None, ReconcileMetrics.create(CollectorRegistry()))  # type: ignore[arg-type]
        self.runtime = Runtime(None, rec, feed, None, feed.metrics, clock=clock, state_topic=store)  # type: ignore[arg-type]
        self.runtime.checkpoint_every_s = 1.0
        self.clock = clock
        self.published: list[Result] = []
        self.offsets: dict[tuple[str, int], int] = {}

    def feed(self, messages: list[Input], first: int, *, checkpoint_every: int = 0) -> None:
        for i, (topic, partition, value, arrival_ms) in enumerate(messages[first:], start=first):
            if arrival_ms / 1000 > self.clock.time():
                self.clock.set(arrival_ms / 1000)
            self.runtime.take(topic, partition, i, json.dumps(value).encode())
            if i % 9 == 0:
                self.clock.advance(5)
                self.published += self.runtime.due()
            if (
                checkpoint_every
                and i % checkpoint_every == 0
                and i < len(messages) * 0.8  # the last one leaves a tail with judgements
                and self.runtime.checkpoint()
            ):
                writing = self.runtime._writing
                assert writing is not None
                writing.exception()  # wait for the write; its outcome is collected next time


def state_without_counters(rec: Reconciler) -> dict[str, Any]:
    state = snapshot_state(rec)
    state.pop("stale_inputs")
    return state


@pytest.mark.parametrize("fail_writes", [0, 2])
def test_checkpoint_and_tail_equal_folding_everything(fail_writes: int) -> None:
    messages = inputs(40, seed=18 + fail_writes)
    full = Run(clock_at(T0))
    full.feed(messages, 0)

    store = MemoryStore(fail_writes=fail_writes)
    live = Run(clock_at(T0), store)
    live.feed(messages, 0, checkpoint_every=37)
    assert len(store.written) >= 5
    # a later checkpoint rewrote only some minutes: the rest are named at older generations
    last = store.written[-1]
    assert len({generation for generation, _ in last.blobs.values()}) > 1

    head, blobs = store.load()
    clock = clock_at(head.taken_ms)
    restored = Run(clock, rec=decode_blobs(blobs, live.runtime.reconciler.settings, clock))
    # the offsets it covers: every message of a partition up to the one before the checkpoint
    covered = max(head.positions.values())
    for where in {(t, p) for t, p, _, _ in messages}:
        seen = [i for i, (t, p, _, _) in enumerate(messages[:covered]) if (t, p) == where]
        assert head.positions.get(where, 0) == (seen[-1] + 1 if seen else 0)
    restored.feed(messages, covered)
    assert state_without_counters(restored.runtime.reconciler) == state_without_counters(
        full.runtime.reconciler
    )
    later = [r for r in full.published if r.checked_ts_ms > head.taken_ms]
    assert later
    assert [r.to_avro() for r in restored.published] == [r.to_avro() for r in later]


def test_a_checkpoint_waits_while_results_are_unpublished() -> None:
    store = MemoryStore()
    run = Run(clock_at(T0), store)
    run.runtime.unsent = [object()]  # type: ignore[list-item]
    assert not run.runtime.checkpoint()
    run.runtime.unsent = []
    assert run.runtime.checkpoint()


def test_an_unchanged_minute_is_not_rewritten() -> None:
    clock = clock_at(T0)
    store = MemoryStore()
    run = Run(clock, store)
    messages = inputs(3, seed=1)
    run.feed(messages, 0)
    clock.advance(10 * 60)
    run.published += run.runtime.due()
    head, blobs, _ = run.runtime.encode_checkpoint()
    store.write(head, blobs)
    assert set(blobs) == {"misc", *(bucket_name(T0 + m * MINUTE) for m in range(3))}
    clock.advance(5)
    assert run.runtime.due() == []
    head, blobs, changed = run.runtime.encode_checkpoint()
    assert set(blobs) == {"misc"} and changed == set()
    assert head.blobs[bucket_name(T0)] == (1, 1)  # still the first checkpoint's


def test_blobs_round_trip_and_damage_is_reported() -> None:
    clock = clock_at(T0)
    rec = reconciler(clock)
    run = Run(clock, rec=rec)
    run.feed(inputs(2, seed=3), 0)
    blobs = encode_blobs(rec, None)
    assert snapshot_state(decode_blobs(blobs, rec.settings, clock)) == snapshot_state(rec)
    with pytest.raises(SnapshotFormatError, match="damaged"):
        unpack([blobs["misc"][0][:-3]])
    assert unpack(pack({"a": list(range(200_000))}))["a"][-1] == 199_999
    head = Head(3, T0, MINUTE, 6 * 3_600_000, {("ops.source_counts", 0): 5}, {"misc": (3, 1)})
    assert Head.from_bytes(head.to_bytes()) == head
    with pytest.raises(SnapshotFormatError, match="format"):
        Head.from_bytes(b'{"format": 99}')


def test_windows_judged_before_the_checkpoint_keep_their_revision_after_restore() -> None:
    clock = clock_at(T0)
    run = Run(clock)
    run.feed(inputs(2, seed=5), 0)
    clock.set((T0 + 2 * MINUTE + GRACE) / 1000)
    first = run.runtime.due()
    assert first
    copy = decode_blobs(
        encode_blobs(run.runtime.reconciler, None), run.runtime.reconciler.settings, clock
    )
    clock.advance(5)
    assert copy.due() == [] == run.runtime.due()


@pytest.mark.parametrize("kind", ["landed", "source", "letter", "unplaced"])
def test_a_change_between_two_ticks_is_in_the_next_checkpoint(kind: str) -> None:
    """Evidence for a judged, quiet window arriving right before a checkpoint (no judging
    pass in between): its minute is rewritten, so the restored state has it."""
    clock = clock_at(T0)
    store = MemoryStore()
    run = Run(clock, store)
    messages = inputs(8, seed=2)
    run.feed(messages, 0)
    clock.advance(5 * 60)  # every window judged, none expired yet
    run.runtime.due()
    head, blobs, _ = run.runtime.encode_checkpoint()
    store.write(head, blobs)
    old = next(
        v
        for t, _, v, _ in messages
        if t == LANDED_COUNTS and v["window_start_ms"] == T0 + 2 * MINUTE
    )
    late: dict[str, Any]
    topic = {"landed": LANDED_COUNTS, "source": SOURCE_COUNTS}.get(kind, DLQ_STANDARDIZE)
    if kind == "landed":
        late = old  # replayed: only the duplicates count changes
    elif kind == "source":
        late = {
            **next(
                v
                for t, _, v, _ in messages
                if t == SOURCE_COUNTS and v["window_start_ms"] == T0 + 2 * MINUTE
            ),
            "emitted_ts_ms": T0 + 20 * MINUTE,
        }
    else:
        late = letter("public.t0", T0 + 2 * MINUTE, 999_999, random.Random(0))
        late["commit_ts_ms"] = None if kind == "unplaced" else T0 + 2 * MINUTE + 1_000
    run.runtime.take(topic, 0, len(messages), json.dumps(late).encode())
    head, blobs, _ = run.runtime.encode_checkpoint()
    store.write(head, blobs)
    _, loaded = store.load()
    restored = decode_blobs(loaded, run.runtime.reconciler.settings, clock)
    assert len(restored.windows) == 8 * 4
    assert snapshot_state(restored) == snapshot_state(run.runtime.reconciler)
