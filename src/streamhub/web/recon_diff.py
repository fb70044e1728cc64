"""The console's `reconcile diff` (without --repair): the missing changes of one window.

:func:`streamhub.reconcile.drill.drill` reads the raw, landed and dead-letter topics; this
module only bounds that read and shapes its answer. The keys are source primary keys
(level-4 data): the console serves them to operators only and never logs them.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaException

from streamhub.config import Settings
from streamhub.errors import ConfigError
from streamhub.kafka.errors import TopicReadError
from streamhub.reconcile.drill import Drill, drill
from streamhub.reconcile.errors import TableNotFoundError
from streamhub.reconcile.times import local_minute
from streamhub.serde.errors import RegistryUnavailableError
from streamhub.web.errors import NotFoundError, ServiceUnavailableError

MAX_KEYS = 200
# drill reads three times (results, raw, landed + dead letters), each bounded by this. The
# raw read dominates: it decodes every change of the window ± 10 min of the system (17 s for
# 157k changes on the local stack); the other two take about a second.
READ_TIMEOUT_S = 30.0


def missing_document(found: Drill, limit: int = MAX_KEYS) -> dict[str, Any]:
    """What the console shows of a drill: the first ``limit`` missing changes."""
    missing = found.missing
    return {
        "institution_id": found.institution_id,
        "table": found.table.full_name,
        "window_start_ms": found.window_start_ms,
        "source_changes": found.source_changes,
        "missing": [
            {
                "key": c.key,
                "op": c.op,
                "commit_ts_ms": c.commit_ts_ms,
                "position_seq": c.position_seq,
            }
            for c in missing[:limit]
        ],
        "truncated": len(missing) > limit,
        "missing_total": len(missing),  # so a truncated list still says how many
    }


def repair_command(found: Drill) -> str:
    """The command line that repairs the window, as `reconcile diff` reads its options."""
    return (
        f"streamhub reconcile diff --institution {found.institution_id} "
        f"--table {found.table.full_name} --window {local_minute(found.window_start_ms)} --repair"
    )


def read_missing(
    settings: Settings, institution_id: str, system: str, table_name: str, window_start_ms: int
) -> dict[str, Any]:
    """The missing changes of the window, read from Kafka (blocks: call it off the loop)."""
    from confluent_kafka.schema_registry import SchemaRegistryClient

    from streamhub.serde.avro_serde import AvroSerde

    where = f"{institution_id} {table_name} window {local_minute(window_start_ms)}"
    try:
        serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
        found = drill(
            settings, serde, institution_id, table_name, window_start_ms, timeout_s=READ_TIMEOUT_S
        )
    except TableNotFoundError as exc:
        raise NotFoundError(str(exc)) from exc
    except (TopicReadError, KafkaException) as exc:
        raise ServiceUnavailableError(
            f"cannot read the raw topics of {where} from Kafka ({exc}); check `streamhub stack "
            "status`, or run `streamhub reconcile diff` with a longer --timeout"
        ) from exc
    except RegistryUnavailableError as exc:
        raise ServiceUnavailableError(
            f"the schema registry did not answer while reading {where} ({exc}); try again "
            "when `streamhub stack status` shows it up"
        ) from exc
    except ConfigError as exc:  # the identity key: landed versions are of keyed record ids
        raise ServiceUnavailableError(
            f"the web app cannot match {where} against what landed: {exc}; then restart "
            "`streamhub serve`"
        ) from exc
    systems = {c.system for c in found.raw}
    if system not in systems:  # the drill found the table under another source system
        raise NotFoundError(
            f"institution {institution_id}: {found.table.full_name} has changes of system "
            f"{', '.join(sorted(systems))}, not {system}, in the window; pick the window again"
        )
    return {**missing_document(found), "repair_command": repair_command(found)}
