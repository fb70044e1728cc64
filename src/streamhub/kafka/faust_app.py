"""What every Faust app (standardize, reconcile, anomaly) shares: its Faust options and how a
worker gives up on a batch.

A worker never lets an exception escape while it holds a batch: leaving ``take_events``'s
``async for`` closes the generator, whose ``finally`` acks the batch, and a later commit would
skip it. A batch that keeps failing therefore ends the process at once (:func:`exit_worker`),
without acking or committing, and the worker restarts from the last commit exactly as after
``kill -9``.
"""

from __future__ import annotations

import logging
import os
from typing import Any, NoReturn

from streamhub.config import Settings

log = logging.getLogger(__name__)

#: Exit status when a batch keeps failing: a supervisor (systemd, Kubernetes) restarts the
#: worker, which resumes from the last committed offsets.
EXIT_BATCH_FAILED = 75  # EX_TEMPFAIL


def faust_settings(settings: Settings, app_id: str) -> dict[str, Any]:
    """Faust options for a quick, loss-free restart; the driver chosen in
    docs/decisions/standardize.md (aiokafka: the confluent driver gets no assignment and
    swaps key and value on send)."""
    # Faust writes its app directory under datadir, by default in the working directory
    datadir = settings.data_dir / "faust" / app_id
    datadir.mkdir(parents=True, exist_ok=True)
    return {
        "datadir": str(datadir),
        "broker": ";".join(f"kafka://{s}" for s in settings.kafka_bootstrap.split(",")),
        "value_serializer": "raw",
        "key_serializer": "raw",
        "store": "memory://",
        "web_enabled": False,
        # no tables, so no leader election topic to create
        "topic_disable_leader": True,
        "consumer_auto_offset_reset": "earliest",
        # outputs are sent right away; the interval only bounds what a crash re-processes
        "broker_commit_interval": 1.0,
        # a member killed with -9 is dropped by the broker after the session timeout, and only
        # then are its partitions handed to the restarted worker: keep it short
        "broker_session_timeout": 10.0,
        "broker_heartbeat_interval": 3.0,
        "producer_acks": -1,
        # finish the batch in hand before a rebalance or a stop (acked, then committed)
        "stream_wait_empty": True,
    }


def without_kafka(app: Any) -> None:
    """Start ``app``'s worker (a ``faust.App``) without Faust's own Kafka consumer and
    producer, for an app whose Kafka client is a hosted batch loop
    (:mod:`streamhub.kafka.hosted`): Faust's consumer would otherwise join the app's group
    with its own protocol."""
    app.boot_strategy = app.BootStrategy(app, enable_kafka=False)


def exit_worker(error: Exception, cause: BaseException | None = None) -> NoReturn:
    """Log ``error`` (with ``cause``'s traceback) and end the process with
    :data:`EXIT_BATCH_FAILED` at once: not ``raise``, which would unwind through
    ``take_events`` and ack the batch in hand (module docstring)."""
    log.critical("%s", error, exc_info=cause)
    logging.shutdown()
    os._exit(EXIT_BATCH_FAILED)
