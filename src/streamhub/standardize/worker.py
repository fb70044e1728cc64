"""Run the standardize app as a Faust worker in the foreground until SIGTERM/SIGINT."""

from __future__ import annotations

import faust
from prometheus_client import start_http_server


def run_worker(app: faust.App, *, loglevel: str = "warning", metrics_port: int = 0) -> None:
    """Start ``app`` and block until it stops; exits the process (``SystemExit``).

    faust.Worker installs SIGTERM/SIGINT handlers on its loop that stop the app cleanly:
    the batch in hand is finished (``stream_wait_empty``), the producer flushed and the
    acked offsets committed, so a stop re-delivers nothing. A crash exits non-zero.
    """
    if metrics_port:
        # one scrape target per worker process (STACK-NOTES: no multiprocess mode needed)
        start_http_server(metrics_port, addr="127.0.0.1")
    worker = faust.Worker(app, loglevel=loglevel.upper(), redirect_stdouts=False, quiet=True)
    worker.execute_from_commandline()
