"""Run a Faust app (standardize, reconcile, anomaly) as a worker in the foreground.

Faust's own log set-up is given streamhub's JSON formatter: an event's fields
(institution, table, kind…) stay in the log line instead of being dropped by Faust's
plain-text format.
"""

from __future__ import annotations

from typing import Any

import faust
from prometheus_client import start_http_server

from streamhub.kafka import probes


def json_logging(level: str) -> dict[str, Any]:
    """A dictConfig for mode's worker: one JSON event per line on stderr."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "streamhub.log.JsonFormatter"}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
                "level": level.upper(),
            }
        },
        "root": {"level": level.upper(), "handlers": ["default"]},
    }


def run_worker(
    app: faust.App,
    *,
    loglevel: str = "info",
    metrics_port: int = 0,
    metrics_host: str = "127.0.0.1",
) -> None:
    """Start ``app`` and block until it stops; exits the process (``SystemExit``).

    faust.Worker installs SIGTERM/SIGINT handlers on its loop that stop the app cleanly:
    the batch in hand is finished (``stream_wait_empty``), the producer flushed and the
    acked offsets committed, so a stop re-delivers nothing. A crash exits non-zero.
    """
    if metrics_port:
        # one scrape target per worker process (STACK-NOTES: no multiprocess mode needed)
        start_http_server(metrics_port, addr=metrics_host)
    _serve_probes(app, metrics_host)
    worker = faust.Worker(
        app,
        loglevel=loglevel.upper(),
        redirect_stdouts=False,
        quiet=True,
        logging_config=json_logging(loglevel),
    )
    worker.execute_from_commandline()


def _serve_probes(app: faust.App, host: str) -> None:
    """With ``STREAMHUB_PROBE_PORT`` set: probes whose event-loop beat is a 1 s Faust timer
    (a blocked loop stops it); a hosted batch loop requires its own beat when it starts."""
    port = probes.env_port()
    if port is None:
        return
    bootstrap = ",".join(str(url).split("://", 1)[-1].rstrip("/") for url in app.conf.broker)
    probes.start(bootstrap, host, port, loops=("event-loop",))

    async def beat() -> None:
        probes.beat("event-loop")

    app.timer(1.0, name="probe-beat")(beat)
