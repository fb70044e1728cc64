"""A :class:`~streamhub.kafka.batch_loop.BatchLoop` hosted inside a Faust worker.

The loop runs in its own thread, started when the worker has started and stopped with it
(SIGTERM/Ctrl-C: the batch in hand is delivered and committed, then the consumer leaves its
group). The worker's event loop stays free for its timers, web server and other agents. Any
error escaping the loop ends the process through
:func:`~streamhub.kafka.faust_app.exit_worker`, never by unwinding into Faust: nothing
uncommitted is acknowledged on the way out, and a supervisor restarts the worker from the last
commit.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import faust
from mode import Service

from streamhub.kafka.batch_loop import BatchLoop
from streamhub.kafka.errors import KafkaIOError

log = logging.getLogger(__name__)


class HostedBatchLoop(Service):
    """Runs ``batch_loop`` in a thread for as long as this service runs."""

    def __init__(self, batch_loop: BatchLoop, *, name: str = "batch-loop", **kwargs: Any) -> None:
        self.batch_loop = batch_loop
        self.thread_name = name
        self._stop_loop = threading.Event()
        self._thread: threading.Thread | None = None
        super().__init__(**kwargs)

    @property
    def shortlabel(self) -> str:
        return self.thread_name

    async def on_start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    async def on_stop(self) -> None:
        self._stop_loop.set()
        thread = self._thread
        if thread is not None:
            # the batch in hand is finished (delivered, committed) before run() returns
            await asyncio.get_running_loop().run_in_executor(None, thread.join)

    def _run(self) -> None:
        options = self.batch_loop.options
        log.info(
            "%s: group %s reading %s in batches of ≤%d within %.0f ms",
            self.thread_name,
            options.group,
            ", ".join(options.topics),
            options.max_messages,
            options.within_s * 1000,
        )
        try:
            self.batch_loop.run(self._stop_loop)
        except BaseException as exc:  # any escape ends the worker uncommitted
            error = KafkaIOError(
                f"{self.thread_name} (group {options.group}) stopped on {exc!r}; exiting "
                "without committing the batch in hand (a restart re-reads it)"
            )
            self.batch_loop.give_up(error, exc)


def host(app: faust.App, batch_loop: BatchLoop, *, name: str = "batch-loop") -> HostedBatchLoop:
    """Run ``batch_loop`` inside ``app``'s worker: started and stopped with it."""
    service = HostedBatchLoop(batch_loop, name=name)
    app.add_dependency(service)
    return service
