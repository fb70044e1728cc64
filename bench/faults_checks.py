"""What a fault run must show once it has drained, one verdict per check.

- exact state: ClickHouse's live std rows equal the standardized form of the sources'
  final state, row for row (tests/integration/pipeline/expectations.py, the end-to-end
  test's comparison);
- reconciliation: every window of the run's institutions ends MATCH (the windows a
  targeted re-snapshot repaired are named);
- anomaly detector and link health: each outage injected (the capture agent's kill, the
  network cut, each database's restart) is named on an institution it hit, within its
  span (from 30 s before it began to 90 s after it ended);
- dead letters: nothing of the run's institutions in any dlq.* topic;
- no process exited that no fault aimed at.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from faults_plan import Fault
from tests.integration.pipeline.expectations import differences, expected_records
from tests.integration.pipeline.harness import Pipeline

from streamhub.anomaly.codec import OpsCodec
from streamhub.capture.connector import ConnectorConfig
from streamhub.config import Settings
from streamhub.kafka.groups import topic_ends
from streamhub.standardize.model import ENTITY_MODELS
from streamhub.standardize.profile import load_profiles
from streamhub.standardize.pseudonym import Pseudonymizer

BEFORE_MS = 30_000
AFTER_MS = 90_000
DOWN_KINDS = frozenset({"SILENCE", "STUCK", "DROP"})


@dataclass(frozen=True)
class Applied:
    """A fault as it happened: wall times (epoch ms) and the institutions its outage hit."""

    fault: Fault
    start_ms: int
    end_ms: int
    institutions: frozenset[str]
    note: str = ""


@dataclass(frozen=True)
class Verdict:
    check: str
    ok: bool
    detail: str


def verdict_table(verdicts: Iterable[Verdict]) -> str:
    rows = list(verdicts)
    width = max(len(v.check) for v in rows)
    lines = [f"{'check'.ljust(width)}  verdict  detail", f"{'-' * width}  -------  ------"]
    lines += [f"{v.check.ljust(width)}  {'PASS' if v.ok else 'FAIL':7}  {v.detail}" for v in rows]
    return "\n".join(lines)


# -- exact state ------------------------------------------------------------------------------
def landed_state(pipeline: Pipeline, prefix: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(entity, record_id) -> the live row, of every std table, for the run's databases."""
    union = " UNION ALL ".join(
        f"SELECT '{entity}' AS entity, formatRowNoNewline('JSONEachRow', *) AS row "  # noqa: S608
        f"FROM std_{entity} FINAL WHERE startsWith(source_database, '{prefix}_') AND NOT deleted"
        for entity in ENTITY_MODELS
    )
    state: dict[tuple[str, str], dict[str, Any]] = {}
    done = pipeline.streamhub("clickhouse", "query", "--format", "json", union, timeout=900)
    if done.returncode != 0:
        raise AssertionError(f"clickhouse query failed: {done.stderr[-2000:]}")
    results = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    for result in results:
        row = json.loads(result["row"])
        state[(result["entity"], row["record_id"])] = row
    return state


def exact_state(
    settings: Settings, pipeline: Pipeline, connectors: list[ConnectorConfig], prefix: str
) -> Verdict:
    expected = expected_records(
        settings,
        connectors,
        load_profiles(Path(pipeline.env()["STREAMHUB_PROFILES_DIR"])),
        Pseudonymizer.from_settings(settings),
    )
    landed = landed_state(pipeline, prefix)
    problems = differences(expected, landed)
    detail = f"{len(expected):,} source rows, {len(landed):,} live rows landed"
    if not expected:
        return Verdict("exact state", False, "the sources are empty")
    if problems:
        detail += f"; {len(problems):,} differences, first: " + " | ".join(problems[:3])
    return Verdict("exact state", not problems, detail)


# -- reconciliation ---------------------------------------------------------------------------
def latest_verdicts(
    records: Iterable[Mapping[str, Any]], institutions: set[str], prefix: str
) -> dict[tuple[Any, ...], Mapping[str, Any]]:
    """Window -> its latest result, for the run's institutions and databases."""
    latest: dict[tuple[Any, ...], Mapping[str, Any]] = {}
    for r in records:
        if r["institution_id"] not in institutions:
            continue
        if not str(r.get("database") or "").startswith(f"{prefix}_"):
            continue
        key = (r["institution_id"], r.get("database") or "", r["table"], r["window_start_ms"])
        if key not in latest or r["revision"] >= latest[key]["revision"]:
            latest[key] = r
    return latest


def reconciliation(
    records: Iterable[Mapping[str, Any]], institutions: set[str], prefix: str
) -> Verdict:
    records = list(records)
    latest = latest_verdicts(records, institutions, prefix)
    statuses: dict[str, int] = {}
    for r in latest.values():
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    earlier: dict[str, int] = {}
    for r in records:
        key = (r["institution_id"], r.get("database") or "", r["table"], r["window_start_ms"])
        if key in latest and r["status"] != "MATCH":
            earlier[r["status"]] = earlier.get(r["status"], 0) + 1
    repaired = [
        f"{k[1]}.{k[2]}@{k[3]} ({r['repaired']} repaired)"
        for k, r in latest.items()
        if int(r.get("repaired") or 0)
    ]
    bad = [
        f"{k[1]}.{k[2]}@{k[3]} {r['status']} ({r.get('detail') or ''})"
        for k, r in latest.items()
        if r["status"] != "MATCH"
    ]
    detail = f"{len(latest):,} windows: " + ", ".join(
        f"{s} {n:,}" for s, n in sorted(statuses.items())
    )
    if earlier:
        detail += "; earlier revisions " + ", ".join(f"{s} {n}" for s, n in sorted(earlier.items()))
    if repaired:
        detail += f"; MATCH after repair: {', '.join(repaired[:5])}"
    if bad:
        detail += f"; not MATCH: {' | '.join(bad[:4])}"
    return Verdict("reconciliation", bool(latest) and not bad, detail)


# -- detectors --------------------------------------------------------------------------------
def openings(events: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The first event of each anomaly id (RECOVERED closes, it does not open)."""
    seen: set[str] = set()
    out = []
    for event in sorted(events, key=lambda e: int(e["detected_ts_ms"])):
        if event["anomaly_id"] not in seen and event["kind"] != "RECOVERED":
            seen.add(str(event["anomaly_id"]))
            out.append(event)
    return out


def _within(ms: int, applied: Applied) -> bool:
    return applied.start_ms - BEFORE_MS <= ms <= applied.end_ms + AFTER_MS


def anomaly_named(events: Iterable[Mapping[str, Any]], outages: list[Applied]) -> Verdict:
    opened = openings(events)
    found, missed = [], []
    for applied in outages:
        hits = [
            e
            for e in opened
            if e["institution_id"] in applied.institutions
            and e["kind"] in DOWN_KINDS
            and (
                _within(int(e.get("start_ms") or e["window_start_ms"]), applied)
                or applied.start_ms <= int(e["detected_ts_ms"]) <= applied.end_ms + AFTER_MS
            )
        ]
        name = applied.fault.describe()
        if hits:
            delay = (min(int(e["detected_ts_ms"]) for e in hits) - applied.start_ms) / 1000
            found.append(f"{name}: {hits[0]['kind']} after {delay:.0f} s")
        else:
            missed.append(name)
    detail = f"{len(opened)} anomalies opened; " + "; ".join(found)
    if missed:
        detail += f"; NOT named: {', '.join(missed)}"
    return Verdict("anomaly detector names outages", not missed, detail)


@dataclass(frozen=True)
class HealthSample:
    at_ms: int
    link: dict[str, int]  # institution -> 0 healthy, 1 degraded, 2 down
    hops: dict[tuple[str, str], int]  # (institution, hop) -> state


def health_named(samples: list[HealthSample], outages: list[Applied]) -> Verdict:
    found, missed = [], []
    for applied in outages:
        hits = [
            s
            for s in samples
            if applied.start_ms <= s.at_ms <= applied.end_ms + AFTER_MS
            and any(s.link.get(i, 0) > 0 for i in applied.institutions)
        ]
        name = applied.fault.describe()
        if hits:
            first = hits[0]
            hops = sorted(
                {hop for (i, hop), v in first.hops.items() if v and i in applied.institutions}
            )
            delay = (first.at_ms - applied.start_ms) / 1000
            found.append(f"{name}: {'/'.join(hops) or 'link'} not healthy after {delay:.0f} s")
        else:
            missed.append(name)
    detail = f"{len(samples)} samples; " + "; ".join(found)
    if missed:
        detail += f"; NOT named: {', '.join(missed)}"
    return Verdict("link health names outages", bool(samples) and not missed, detail)


# -- dead letters -----------------------------------------------------------------------------
def dead_letters(
    settings: Settings,
    starts: Mapping[tuple[str, int], int],
    topics: list[str],
    institutions: set[str],
) -> Verdict:
    """The run's institutions' dead letters written since the run began."""
    ends = topic_ends(settings, topics)
    wanted = {where: end for where, end in ends.items() if end > starts.get(where, 0)}
    codec = OpsCodec(settings)
    found: dict[str, int] = {}
    reasons: list[str] = []
    if wanted:
        consumer = Consumer(
            {"bootstrap.servers": settings.kafka_bootstrap, "group.id": "faults-dlq-read"}
        )
        try:
            consumer.assign([TopicPartition(t, p, starts.get((t, p), 0)) for t, p in wanted])
            remaining = dict(wanted)
            while remaining:
                messages = consumer.consume(500, timeout=5.0)
                if not messages:
                    break
                for message in messages:
                    where = (message.topic() or "", message.partition() or 0)
                    if message.error() is not None or where not in remaining:
                        continue
                    if (message.offset() or 0) + 1 >= remaining[where]:
                        del remaining[where]
                    try:
                        letter = codec.decode(message.value() or b"")
                    except Exception:  # undecodable: counted, as it may be ours
                        letter = {"institution_id": None, "reason": "undecodable dead letter"}
                    if letter.get("institution_id") not in institutions | {None}:
                        continue
                    found[where[0]] = found.get(where[0], 0) + 1
                    reasons.append(str(letter.get("reason"))[:120])
        finally:
            consumer.close()
    detail = (
        "none in " + ", ".join(topics)
        if not found
        else ", ".join(f"{t} {n}" for t, n in found.items()) + f"; first: {reasons[:2]}"
    )
    return Verdict("no dead letters", not found, detail)
