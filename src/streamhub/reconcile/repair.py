"""`reconcile diff --repair`: re-snapshot exactly the missing keys, wait until they really
landed, then credit the window they were missing from.

Per connector: a targeted re-snapshot of the missing rows (``send_snapshot_request`` with
keys), its completion (which rows were re-read at which ``position_seq``, which keys the
source no longer has), then a wait until every re-read version shows up in
``ops.landed_counts`` — proof the lander stored it, not merely that capture sent it.
Only then is the credit published: an ``ops.landed_counts`` record with ``repair_id``
whose versions are the window's missing versions of the rows now landed. The re-read
rows themselves are counted in the window of the re-read like any snapshot read.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from streamhub.capture.signals import send_snapshot_request, wait_for_snapshot_done
from streamhub.catalog.load import load_schema
from streamhub.config import Settings
from streamhub.core.clock import SYSTEM_CLOCK, Clock, now_ms
from streamhub.core.identity import canonical_key, record_id_of, version_id
from streamhub.core.topic_names import LANDED_COUNTS
from streamhub.kafka.reading import read_since
from streamhub.land.kafka_out import Outbox
from streamhub.log import get_logger
from streamhub.reconcile.drill import Drill, RawChange
from streamhub.reconcile.errors import RepairTimeoutError
from streamhub.serde.avro_serde import AvroSerde
from streamhub.standardize.pseudonym_keys import IdentityTokens

log = get_logger(__name__)
Progress = Callable[[str], None]


@dataclass
class RepairOutcome:
    repair_id: str
    credited: list[RawChange] = field(default_factory=list)  # missing changes now accounted
    not_repairable: list[RawChange] = field(default_factory=list)  # key gone from the source

    @property
    def complete(self) -> bool:
        return not self.not_repairable


def plan(missing: list[RawChange]) -> dict[str, list[dict[str, object]]]:
    """Keys to re-read per connector (each row once, in source-log order)."""
    keys: dict[str, dict[str, dict[str, object]]] = {}
    for change in missing:
        keys.setdefault(change.connector, {}).setdefault(change.key_json, change.key)
    return {connector: list(by_json.values()) for connector, by_json in keys.items()}


def repair(
    settings: Settings,
    serde: AvroSerde,
    found: Drill,
    *,
    timeout_s: float = 120.0,
    progress: Progress = lambda _: None,
    clock: Clock = SYSTEM_CLOCK,
) -> RepairOutcome:
    missing = found.missing
    outcome = RepairOutcome(f"repair-{uuid.uuid4().hex[:12]}")
    if not missing:
        return outcome
    table = found.table
    identity = IdentityTokens.from_settings(settings)
    started_ms = now_ms(clock)
    deadline = clock.monotonic() + timeout_s
    expected: dict[int, str] = {}  # version of a re-read row -> its key
    restored_keys: set[str] = set()
    for connector, keys in plan(missing).items():
        request = send_snapshot_request(
            settings,
            connector,
            table.full_name,
            keys=keys,
            request_id=f"{outcome.repair_id}-{connector}",
        )
        progress(
            f"asked {connector} to re-read {len(keys)} row(s) of {table.full_name} "
            f"(request {request})"
        )
        done = wait_for_snapshot_done(settings, request, max(1.0, deadline - clock.monotonic()))
        progress(
            f"{connector} re-read {len(done.read)} row(s); {len(done.not_found)} key(s) "
            "no longer in the source"
        )
        for reread in done.read:
            key_json = canonical_key(reread.key)
            rid = record_id_of(identity, table, key_json)
            expected[version_id(rid, reread.position_seq)] = key_json
            restored_keys.add(key_json)
    _wait_landed(settings, serde, found, set(expected), started_ms, deadline, progress, clock)
    outcome.credited = [c for c in missing if c.key_json in restored_keys]
    outcome.not_repairable = [c for c in missing if c.key_json not in restored_keys]
    if outcome.credited:
        _publish_credit(settings, serde, found, outcome, clock)
        progress(f"credited {len(outcome.credited)} change(s) to the window as {outcome.repair_id}")
    log.info(
        "repair done",
        extra={
            "institution": table.institution_id,
            "table": table.full_name,
            "window_start_ms": found.window_start_ms,
            "repair_id": outcome.repair_id,
            "credited": len(outcome.credited),
            "not_repairable": len(outcome.not_repairable),
        },
    )
    return outcome


def _wait_landed(
    settings: Settings,
    serde: AvroSerde,
    found: Drill,
    expected: set[int],
    since_ms: int,
    deadline: float,
    progress: Progress,
    clock: Clock,
) -> None:
    landed: set[int] = set()
    table = found.table
    last_report = 0.0
    while True:
        for message in read_since(settings, [LANDED_COUNTS], since_ms - 60_000):
            if message.value is None:
                continue
            value = serde.decode(message.value).value
            if (
                isinstance(value, dict)
                and value.get("institution_id") == table.institution_id
                and value.get("table") == table.table
                and value.get("repair_id") is None
            ):
                landed |= expected & set(value.get("versions") or ())
                found.entity = found.entity or value.get("entity")
        if landed >= expected:
            progress(f"all {len(expected)} re-read row(s) landed")
            return
        if clock.monotonic() > deadline:
            raise RepairTimeoutError(
                f"{len(expected - landed)} of {len(expected)} re-read row(s) of "
                f"{table.full_name} did not land before the timeout; check that "
                "`streamhub land` runs (its log, dlq.land), then run the repair again",
                institution=table.institution_id,
                table=table.full_name,
                window_start_ms=found.window_start_ms,
                not_landed=len(expected - landed),
            )
        if clock.monotonic() - last_report >= 5:
            last_report = clock.monotonic()
            progress(f"waiting for the lander: {len(landed)}/{len(expected)} re-read row(s) landed")
        clock.sleep(2.0)


def _publish_credit(
    settings: Settings, serde: AvroSerde, found: Drill, outcome: RepairOutcome, clock: Clock
) -> None:
    table = found.table
    writer = serde.register(
        f"{LANDED_COUNTS}-value",
        load_schema(settings.project_dir / "avro_schemas", "ops/landed_counts.avsc"),
    )
    changes = outcome.credited
    system = changes[0].system
    value = {
        "institution_id": table.institution_id,
        "system": system,
        "table": table.table,
        "entity": found.entity or "unknown",
        "window_start_ms": found.window_start_ms,
        "window_ms": 60_000,
        "upserts": sum(1 for c in changes if c.op != "d"),
        "deletes": sum(1 for c in changes if c.op == "d"),
        "landed_ts_ms": now_ms(clock),
        "database": table.database,
        "versions": sorted({c.version for c in changes}),
        "repair_id": outcome.repair_id,
    }
    key = f"{table.institution_id}|{table.table}|{found.window_start_ms}".encode()
    outbox = Outbox(settings.kafka_bootstrap, serde)
    try:
        outbox.send_all(writer, LANDED_COUNTS, [(key, value)], timeout_s=30.0)
    finally:
        outbox.close()
