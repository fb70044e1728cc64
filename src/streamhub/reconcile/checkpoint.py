"""A checkpoint of the reconciler: its state as named, compressed blobs, written incrementally.

A checkpoint is what the app needs to resume without replaying the retention's inputs:

- ``misc``: everything but the windows (the tables' databases, row counts, parked
  input, unplaced dead letters, counters), rewritten by every checkpoint;
- ``w<start>``: every retained window of one window start (a minute), rewritten only
  when one of its windows changed since the checkpoint before
  (:meth:`Reconciler.take_changed_starts`): minutes past their grace and quiet stay as
  they were written, so a checkpoint costs what changed, not what is retained;
- the :class:`Head`: which generation of each blob makes up this checkpoint, and the
  input offsets (per topic partition) the state covers: the app replays only from there.

Blobs are JSON (``snapshot.py``'s shapes), zlib-compressed, cut into parts well under
Kafka's 1 MB message limit. Nothing here does I/O; ``state_topic.py`` stores them.
"""

from __future__ import annotations

import gc
import json
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from streamhub.core.clock import SYSTEM_CLOCK, Clock
from streamhub.kafka.reading import Offsets
from streamhub.reconcile.errors import SnapshotFormatError
from streamhub.reconcile.reconciler import Reconciler, ReconcileSettings
from streamhub.reconcile.snapshot import FORMAT, adopt_rows, misc_state, restore_state, window_rows

#: a blob's parts stay under this many bytes (Kafka's default message limit is 1 MB)
PART_BYTES = 512 * 1024
MISC = "misc"

Blobs = dict[str, list[bytes]]


def bucket_name(start_ms: int) -> str:
    return f"w{start_ms}"


@dataclass(frozen=True)
class Head:
    """One checkpoint: the blob generations that make it up and the offsets it covers."""

    generation: int
    taken_ms: int
    window_ms: int
    retention_ms: int
    positions: Offsets  # next input offset per (topic, partition) the state has not seen
    blobs: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (generation, parts)

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "format": FORMAT,
                "generation": self.generation,
                "taken_ms": self.taken_ms,
                "window_ms": self.window_ms,
                "retention_ms": self.retention_ms,
                "positions": sorted([t, p, o] for (t, p), o in self.positions.items()),
                "blobs": {name: list(gp) for name, gp in sorted(self.blobs.items())},
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Head:
        try:
            doc = json.loads(data)
            if doc.get("format") != FORMAT:
                raise SnapshotFormatError(
                    f"reconcile checkpoint has format {doc.get('format')!r}, this version "
                    f"reads {FORMAT}; the state is rebuilt by replaying the inputs instead"
                )
            return cls(
                int(doc["generation"]),
                int(doc["taken_ms"]),
                int(doc["window_ms"]),
                int(doc["retention_ms"]),
                {(str(t), int(p)): int(o) for t, p, o in doc["positions"]},
                {str(n): (int(g), int(k)) for n, (g, k) in doc["blobs"].items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SnapshotFormatError(f"reconcile checkpoint head is damaged: {exc!r}") from exc

    def fits(self, settings: ReconcileSettings) -> bool:
        """Whether windows of this checkpoint are windows of ``settings``."""
        return self.window_ms == settings.window_ms


def pack(document: dict[str, Any]) -> list[bytes]:
    data = zlib.compress(json.dumps(document, separators=(",", ":")).encode(), 1)
    return [data[i : i + PART_BYTES] for i in range(0, len(data), PART_BYTES)] or [b""]


def unpack(parts: list[bytes]) -> dict[str, Any]:
    try:
        document = json.loads(zlib.decompress(b"".join(parts)))
    except (zlib.error, ValueError) as exc:
        raise SnapshotFormatError(f"reconcile checkpoint blob is damaged: {exc!r}") from exc
    if not isinstance(document, dict):
        raise SnapshotFormatError("reconcile checkpoint blob is not a JSON object")
    return document


def encode_blobs(reconciler: Reconciler, changed: set[int] | None) -> Blobs:
    """``misc`` and the minute buckets of ``changed`` window starts (None: every retained
    one). A changed start without windows left (expired) has no blob: the head drops it."""
    blobs: Blobs = {MISC: pack(misc_state(reconciler))}
    starts = reconciler.window_starts() if changed is None else sorted(changed)
    for start in starts:
        rows = window_rows(reconciler.windows_of(start))
        if rows:
            blobs[bucket_name(start)] = pack({"windows": rows})
    return blobs


def decode_blobs(
    blobs: Blobs, settings: ReconcileSettings | None = None, clock: Clock = SYSTEM_CLOCK
) -> Reconciler:
    """The reconciler a checkpoint's blobs describe."""
    if MISC not in blobs:
        raise SnapshotFormatError("reconcile checkpoint has no misc blob")
    with collector_paused():
        reconciler = restore_state({**unpack(blobs[MISC]), "windows": []}, settings, clock)
        for name, parts in blobs.items():
            if name != MISC:
                adopt_rows(reconciler, unpack(parts)["windows"])
    reconciler.take_changed_starts()
    return reconciler


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while millions of objects that stay alive
    are built: each full collection walks them all again (measured: half the CPU of a
    restore of 52,000 windows). Building them makes no cycles worth collecting meanwhile."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def next_head(
    previous: Head | None,
    reconciler: Reconciler,
    written: Blobs,
    *,
    generation: int,
    taken_ms: int,
    positions: Offsets,
) -> Head:
    """The head naming ``written`` at ``generation`` and, for the rest of the retained
    minutes, the generation the previous head named."""
    known = {} if previous is None else previous.blobs
    names = [MISC, *(bucket_name(s) for s in reconciler.window_starts())]
    blobs: dict[str, tuple[int, int]] = {}
    for name in names:
        if name in written:
            blobs[name] = (generation, len(written[name]))
        elif name in known:
            blobs[name] = known[name]
        else:
            raise SnapshotFormatError(f"checkpoint blob {name} was neither written nor known")
    settings = reconciler.settings
    return Head(
        generation, taken_ms, settings.window_ms, settings.retention_ms, dict(positions), blobs
    )


def unwritten(previous: Head | None, reconciler: Reconciler) -> set[int]:
    """Retained window starts the previous head has no blob of (they must be written)."""
    known = set() if previous is None else set(previous.blobs)
    return {s for s in reconciler.window_starts() if bucket_name(s) not in known}
