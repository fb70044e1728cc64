"""The detector's state as a snapshot: every connector's feeds and baselines, the open
anomalies, and the input offsets it has processed up to.

A snapshot is exact: a service restored from one and fed the inputs after its offsets
emits what the service it was taken from would have emitted (the unit tests hold both
side by side). It is taken between batches, when every event caused by the inputs
before its offsets has been delivered (:mod:`.app`), and written by :mod:`.snapshot_log`.

Records: one per connector (its heartbeat state and its feeds, each feed's judge and
baseline; the baseline's slot arrays as raw doubles in the machine's byte order, base64:
exact, and every host streamhub runs on is little-endian), zlib-compressed JSON, plus a
manifest naming the snapshot, its offsets, its open anomalies and the detector settings it
was taken under. A snapshot taken under other settings is not restored (the warm start
replays history instead), so a changed baseline rule still applies to the past.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
import zlib
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from streamhub.anomaly.baseline import MINUTE_MS, Baseline, _Slots
from streamhub.anomaly.detector import TrafficDetector, _Connector
from streamhub.anomaly.errors import SnapshotError
from streamhub.anomaly.events import AnomalyEvent, FeedKey, Kind, Severity
from streamhub.anomaly.judge import FeedJudge, OpenAnomaly
from streamhub.anomaly.service import AnomalyService
from streamhub.kafka.reading import Offsets

FORMAT = 1
#: how often the running app takes a snapshot; a warm start replays at most this much input
DEFAULT_INTERVAL_MS = 10 * MINUTE_MS

Record = tuple[bytes, bytes]


@dataclass
class Snapshot:
    snapshot_id: str
    taken_ms: int  # the detector's clock when taken
    settings: str  # fingerprint of the DetectorConfig it was taken under
    offsets: Offsets  # every input partition's next offset: processed up to there
    connectors: dict[str, dict[str, Any]] = field(default_factory=dict)
    open: list[dict[str, Any]] = field(default_factory=list)
    late_records: int = 0
    generation: int = 0  # which of the two record sets it was read from


def settings_fingerprint(service: AnomalyService) -> str:
    """The detector settings and the connectors watched: a snapshot fits only those."""
    text = service.detector.config.model_dump_json() + "|" + "|".join(service.scope.patterns)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def dump(service: AnomalyService, offsets: Offsets, taken_ms: int = 0) -> Snapshot:
    """The whole state as data (tests, benchmarks; the app streams :func:`records_of`)."""
    snapshot = dump_header(service, offsets, taken_ms)
    connectors = service.detector._connectors
    snapshot.connectors = {name: _dump_connector(c) for name, c in connectors.items()}
    return snapshot


def restore(service: AnomalyService, snapshot: Snapshot) -> None:
    """Load ``snapshot`` into a service that has seen no input (its suppressions stay)."""
    detector = service.detector
    if snapshot.settings != settings_fingerprint(service):
        raise SnapshotError(
            f"snapshot {snapshot.snapshot_id} was taken under other detector settings or "
            "--connectors; the warm start replays history instead"
        )
    detector._connectors = {
        name: _load_connector(detector, name, state) for name, state in snapshot.connectors.items()
    }
    detector.late_records = snapshot.late_records
    service.open = {e.anomaly_id: e for e in map(_load_event, snapshot.open)}
    service.positions = dict(snapshot.offsets)


# --- records ----------------------------------------------------------------------------------


def encode(snapshot: Snapshot, generation: int = 0) -> list[Record]:
    """The connector records, then the manifest (written last: it makes the rest current).

    Connector records are keyed by ``generation`` too: writing alternates between two, so
    a write cut short leaves the previous snapshot, which the manifest still names, whole.
    """
    out = [
        _connector_record(snapshot.snapshot_id, name, state, generation)
        for name, state in sorted(snapshot.connectors.items())
    ]
    return [*out, _manifest_record(snapshot, sorted(snapshot.connectors), generation)]


def records_of(
    service: AnomalyService, offsets: Offsets, taken_ms: int, generation: int
) -> Iterator[Record]:
    """:func:`encode` of :func:`dump`, one connector at a time: what the running app
    writes. Only one connector's state is unpacked at once (a whole dump of a region's
    feeds would hold ~12 kB a feed until written); the caller keeps the detector still
    until the last record (the manifest) is out."""
    head = dump_header(service, offsets, taken_ms)
    names = sorted(service.detector._connectors)
    for name in names:
        state = _dump_connector(service.detector._connectors[name])
        yield _connector_record(head.snapshot_id, name, state, generation)
    yield _manifest_record(head, names, generation)


def dump_header(service: AnomalyService, offsets: Offsets, taken_ms: int) -> Snapshot:
    """A snapshot without its connectors: id, time, settings, offsets, open anomalies."""
    return Snapshot(
        snapshot_id=uuid.uuid4().hex,
        taken_ms=taken_ms,
        settings=settings_fingerprint(service),
        offsets=dict(offsets),
        open=[_dump_event(e) for e in service.open.values()],
        late_records=service.detector.late_records,
    )


def _connector_record(
    snapshot_id: str, name: str, state: dict[str, Any], generation: int
) -> Record:
    return (
        _key("connector", name, generation),
        _pack({"snapshot_id": snapshot_id, "state": state}),
    )


def _manifest_record(snapshot: Snapshot, connectors: list[str], generation: int) -> Record:
    manifest = {
        "format": FORMAT,
        "generation": generation,
        "snapshot_id": snapshot.snapshot_id,
        "taken_ms": snapshot.taken_ms,
        "settings": snapshot.settings,
        "offsets": [[t, p, o] for (t, p), o in sorted(snapshot.offsets.items())],
        "connectors": connectors,
        "open": snapshot.open,
        "late_records": snapshot.late_records,
    }
    return _key("manifest", ""), _pack(manifest)


def decode(records: list[Record]) -> Snapshot:
    """The snapshot the (last) manifest names, from records read in order."""
    manifest: dict[str, Any] | None = None
    states: dict[tuple[str, int], dict[str, Any]] = {}
    for raw_key, raw_value in records:
        key = json.loads(raw_key)
        value = _unpack(raw_value)
        if key["kind"] == "manifest":
            manifest = value
        elif key["kind"] == "connector":
            states[(key["name"], key.get("gen", 0))] = value
    if manifest is None:
        raise SnapshotError("no snapshot manifest")
    if manifest.get("format") != FORMAT:
        raise SnapshotError(f"snapshot format {manifest.get('format')}, this build reads {FORMAT}")
    sid = manifest["snapshot_id"]
    generation = int(manifest.get("generation", 0))
    connectors: dict[str, dict[str, Any]] = {}
    for name in manifest["connectors"]:
        state = states.get((name, generation))
        if state is None or state["snapshot_id"] != sid:
            raise SnapshotError(f"snapshot {sid} lacks connector {name} (a write was cut short)")
        connectors[name] = state["state"]
    return Snapshot(
        snapshot_id=sid,
        taken_ms=int(manifest["taken_ms"]),
        settings=str(manifest["settings"]),
        offsets={(t, int(p)): int(o) for t, p, o in manifest["offsets"]},
        connectors=connectors,
        open=list(manifest["open"]),
        late_records=int(manifest["late_records"]),
        generation=generation,
    )


def _key(kind: str, name: str, generation: int | None = None) -> bytes:
    key: dict[str, Any] = {"kind": kind, "name": name}
    if generation is not None:
        key["gen"] = generation
    return json.dumps(key, sort_keys=True).encode()


def _pack(value: dict[str, Any]) -> bytes:
    return zlib.compress(json.dumps(value, separators=(",", ":")).encode(), 1)


def _unpack(raw: bytes) -> dict[str, Any]:
    try:
        value: dict[str, Any] = json.loads(zlib.decompress(raw))
    except (zlib.error, ValueError) as exc:
        raise SnapshotError(f"unreadable snapshot record: {exc}") from exc
    return value


# --- connectors, feeds, baselines -------------------------------------------------------------


def _dump_connector(c: _Connector) -> dict[str, Any]:
    return {
        "institution_id": c.institution_id,
        "system": c.system,
        "feeds": {table: _dump_feed(judge) for table, judge in c.feeds.items()},
        "pending": [[t, m, n] for (t, m), n in c.pending.items()],
        "next_minute": c.next_minute,
        "horizon_ms": c.horizon_ms,
        "heard_at_ms": c.heard_at_ms,
        "blind_until_ms": c.blind_until_ms,
        "failed": c.failed,
        "stale": _dump_event(c.stale) if c.stale is not None else None,
    }


def _load_connector(detector: TrafficDetector, name: str, s: dict[str, Any]) -> _Connector:
    conn = _Connector(name, s["institution_id"], s["system"])
    for table, feed in s["feeds"].items():
        key = FeedKey(name, conn.institution_id, conn.system, table)
        conn.feeds[table] = _load_feed(detector, key, feed)
    conn.pending = {(t, int(m)): int(n) for t, m, n in s["pending"]}
    conn.next_minute = s["next_minute"]
    conn.horizon_ms = s["horizon_ms"]
    conn.heard_at_ms = s["heard_at_ms"]
    conn.blind_until_ms = s["blind_until_ms"]
    conn.failed = s["failed"]
    conn.stale = _load_event(s["stale"]) if s["stale"] is not None else None
    return conn


def _dump_feed(judge: FeedJudge) -> dict[str, Any]:
    anomaly = judge.open
    return {
        "states": [[m, st] for m, st in judge.states],
        "silence_sum": judge.silence_sum,
        "silence_start": judge.silence_start,
        "open": None
        if anomaly is None
        else [
            anomaly.anomaly_id,
            anomaly.kind.value,
            anomaly.severity.value,
            anomaly.start_ms,
            anomaly.up_minutes,
        ],
        "started": judge.started,
        "baseline": _dump_baseline(judge.baseline),
    }


def _load_feed(detector: TrafficDetector, key: FeedKey, s: dict[str, Any]) -> FeedJudge:
    judge = FeedJudge.new(key, detector.config.judge, detector.config.baseline)
    judge.states = [(int(m), st) for m, st in s["states"]]
    judge.silence_sum = s["silence_sum"]
    judge.silence_start = s["silence_start"]
    if s["open"] is not None:
        anomaly_id, kind, severity, start, up = s["open"]
        judge.open = OpenAnomaly(anomaly_id, Kind(kind), Severity(severity), start, up)
    judge.started = s["started"]
    _load_baseline(judge.baseline, s["baseline"])
    return judge


def _dump_baseline(b: Baseline) -> dict[str, Any]:
    slots = b._slots
    return {
        "seen": b.minutes_seen,
        "recent": list(b._recent),  # copies: the app encodes in a thread
        "ratios": list(b._ratios),
        "slots": None
        if slots is None
        else {
            "kept": slots._kept,
            "medians": _b64(slots._medians),
            "count": _b64(slots._count),
            "head": _b64(slots._head),
            "period": _b64(slots._period),
            "pending": _b64(slots._pending),
            "live": slots._live,
            "values": list(slots._values),
        },
    }


def _load_baseline(b: Baseline, s: dict[str, Any]) -> None:
    b.minutes_seen = s["seen"]
    b._recent = list(s["recent"])
    b._ratios = list(s["ratios"])
    raw = s["slots"]
    if raw is None:
        return
    count = _array("i", raw["count"])
    slots = _Slots(len(count), raw["kept"])
    slots._medians = _array("d", raw["medians"])
    slots._count = count
    slots._head = _array("i", raw["head"])
    slots._period = _array("q", raw["period"])
    slots._pending = _array("d", raw["pending"])
    slots._live = raw["live"]
    slots._values = list(raw["values"])
    b._slots = slots


def _b64(values: array[Any]) -> str:
    return base64.b64encode(values.tobytes()).decode()


def _array(typecode: str, text: str) -> array[Any]:
    values = array(typecode)
    values.frombytes(base64.b64decode(text))
    return values


# --- events -----------------------------------------------------------------------------------


def _dump_event(e: AnomalyEvent) -> dict[str, Any]:
    record = e.to_record()
    for name in ("observed", "expected", "lower", "upper", "score"):
        record[name] = getattr(e, name)  # as held: an int stays an int
    return record


def _load_event(r: dict[str, Any]) -> AnomalyEvent:
    return AnomalyEvent(
        anomaly_id=r["anomaly_id"],
        feed=FeedKey(r["connector"], r["institution_id"], r["system"], r["table"]),
        metric=r["metric"],
        kind=Kind(r["kind"]),
        severity=Severity(r["severity"]),
        observed=r["observed"],
        expected=r["expected"],
        lower=r["lower"],
        upper=r["upper"],
        score=r["score"],
        window_start_ms=r["window_start_ms"],
        detected_ts_ms=r["detected_ts_ms"],
        start_ms=r["start_ms"],
        end_ms=r["end_ms"],
        recovered_kind=Kind(r["recovered_kind"]) if r["recovered_kind"] else None,
        suppressed=r["suppressed"],
        suppression=r["suppression"],
        detail=r["detail"],
    )
