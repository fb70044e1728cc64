"""Liveness and readiness of a worker process, served over HTTP for Kubernetes probes.

What the two answers mean:

* **live** (``GET /livez``): every loop the process declared has beaten within
  ``stuck_after_s``; before its first beat, within ``startup_s`` of the probe's start (a warm
  start replays hours of input before the loop turns: the anomaly detector's history, the
  reconciler's retention, health's horizon). A loop that stops
  beating is stuck (a deadlock, a call that never returns): restarting the process is the
  cure, and at-least-once makes it safe. A lost Kafka or ClickHouse does *not* fail liveness:
  a restart would not bring them back, and the loops keep beating while they retry.
* **ready** (``GET /readyz``): live, every declared loop has beaten within ``stale_after_s``
  (it is progressing now, not merely not yet stuck), and every dependency check passed within
  the last ``3 × check_every_s``: Kafka answers a metadata request (any broker of the
  bootstrap list), and for the lander a ClickHouse server answers ``/ping``.

A loop declares itself with :func:`require` and calls :func:`beat` once per turn (a
monotonic time stored, nothing more). The checks run in one background thread every
``check_every_s``, so a probe request answers at once from the last results. Both answers
are JSON (``{"ok": …, "checks": {name: {"ok": …, "detail": …}}}``) with 200 or 503; details
name what failed, never a secret (URLs are shown masked).

The server starts only when ``STREAMHUB_PROBE_PORT`` is set (the Helm chart sets it), on
``settings.metrics_host``; :func:`start_from_env` is the one line a process adds at start-up.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from streamhub.config import Settings
from streamhub.core.clock import SYSTEM_CLOCK, Clock
from streamhub.kafka.errors import KafkaIOError
from streamhub.log import get_logger
from streamhub.secrets_mask import mask_url

log = get_logger(__name__)

PORT_ENV = "STREAMHUB_PROBE_PORT"
STUCK_AFTER_S = 300.0  # above the lander's retry_for_s: a loop retrying ClickHouse still turns
STARTUP_S = 1800.0  # a warm start's replay before the first turn
STALE_AFTER_S = 30.0
CHECK_EVERY_S = 5.0
CHECK_TIMEOUT_S = 3.0

#: A dependency check: returns a short detail when it passes, raises when it does not.
Check = Callable[[], str]


class ProbeError(KafkaIOError):
    """The probe server could not start (its port is taken or not a number)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    checks: dict[str, dict[str, Any]]

    def body(self) -> bytes:
        return json.dumps({"ok": self.ok, "checks": self.checks}, ensure_ascii=False).encode()


class Probes:
    """Beats of the process's loops and the last result of each dependency check."""

    def __init__(
        self,
        *,
        clock: Clock = SYSTEM_CLOCK,
        stuck_after_s: float = STUCK_AFTER_S,
        startup_s: float = STARTUP_S,
        stale_after_s: float = STALE_AFTER_S,
        check_every_s: float = CHECK_EVERY_S,
    ) -> None:
        self.clock = clock
        self.stuck_after_s = stuck_after_s
        self.startup_s = max(startup_s, stuck_after_s)
        self.stale_after_s = stale_after_s
        self.check_every_s = check_every_s
        self._lock = threading.Lock()
        self._started = clock.monotonic()
        self._required: set[str] = set()
        self._beats: dict[str, float] = {}
        self._checks: dict[str, Check] = {}
        self._results: dict[str, tuple[float, bool, str]] = {}

    # what the process tells ---------------------------------------------------------

    def require(self, loop: str) -> None:
        """``loop`` must beat for the process to be live and ready (from now on)."""
        with self._lock:
            if loop not in self._required:
                self._required.add(loop)
                self._beats.setdefault(loop, -1.0)

    def beat(self, loop: str) -> None:
        self._beats[loop] = self.clock.monotonic()  # one store: no lock on the hot path

    @property
    def required(self) -> frozenset[str]:
        return frozenset(self._required)

    def add_check(self, name: str, check: Check) -> None:
        with self._lock:
            self._checks[name] = check

    # checks ---------------------------------------------------------------------------

    def run_checks(self) -> None:
        """Run every dependency check once and keep its result."""
        with self._lock:
            checks = dict(self._checks)
        for name, check in checks.items():
            try:
                ok, detail = True, check()
            except Exception as exc:  # any failure of a check is "not ready", with why
                ok, detail = False, str(exc) or type(exc).__name__
            with self._lock:
                self._results[name] = (self.clock.monotonic(), ok, detail)

    # answers --------------------------------------------------------------------------

    def _loops(self, limit_s: float, first_limit_s: float) -> dict[str, dict[str, Any]]:
        now = self.clock.monotonic()
        answers = {}
        for loop in sorted(self._required):
            beat = self._beats.get(loop, -1.0)
            if beat < 0:
                age = now - self._started
                ok = age <= first_limit_s
                detail = f"no turn yet ({age:.0f}s since start)"
            else:
                age = now - beat
                ok = age <= limit_s
                detail = f"last turn {age:.1f}s ago"
            answers[f"loop:{loop}"] = {"ok": ok, "detail": detail}
        return answers

    def liveness(self) -> Verdict:
        with self._lock:
            loops = self._loops(self.stuck_after_s, self.startup_s)
        return Verdict(all(c["ok"] for c in loops.values()), loops)

    def readiness(self) -> Verdict:
        with self._lock:
            answers = self._loops(self.stale_after_s, self.stale_after_s)
            for loop, beat in self._beats.items():
                if loop in self._required and beat < 0:
                    answers[f"loop:{loop}"]["ok"] = False  # starting: not ready before a turn
            now = self.clock.monotonic()
            for name in sorted(self._checks):
                result = self._results.get(name)
                if result is None:
                    answers[name] = {"ok": False, "detail": "not checked yet"}
                    continue
                at, ok, detail = result
                if now - at > 3 * self.check_every_s:
                    ok, detail = False, f"last checked {now - at:.0f}s ago (checker stalled)"
                answers[name] = {"ok": ok, "detail": detail}
        return Verdict(all(c["ok"] for c in answers.values()), answers)


def kafka_check(bootstrap: str, timeout_s: float = CHECK_TIMEOUT_S) -> Check:
    """Kafka answers a metadata request: some broker of ``bootstrap`` is reachable."""
    admin = AdminClient(
        {"bootstrap.servers": bootstrap, "socket.connection.setup.timeout.ms": 3000}
    )

    def check() -> str:
        try:
            metadata = admin.list_topics(timeout=timeout_s)
        except KafkaException as exc:
            raise KafkaIOError(f"Kafka ({bootstrap}) did not answer: {exc}") from exc
        return f"{len(metadata.brokers)} brokers"

    return check


def clickhouse_check(dsn: str, timeout_s: float = CHECK_TIMEOUT_S) -> Check | None:
    """A ClickHouse server answers ``/ping`` (None for the embedded chDB engine: nothing to
    reach, the lander owns it)."""
    parts = urlsplit(dsn)
    if parts.scheme not in ("http", "https"):
        return None
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    url = f"{parts.scheme}://{host}{port}/ping"  # no credentials: /ping needs none
    shown = mask_url(dsn)

    def check() -> str:
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as answer:  # noqa: S310
                text = answer.read(64).decode("utf-8", "replace").strip()
        except (urllib.error.URLError, OSError) as exc:
            raise KafkaIOError(f"ClickHouse ({shown}) did not answer /ping: {exc}") from exc
        if text != "Ok.":
            raise KafkaIOError(f"ClickHouse ({shown}) answered /ping with {text[:20]!r}")
        return "ping ok"

    return check


class _Handler(BaseHTTPRequestHandler):
    probes: Probes

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path in ("/livez", "/healthz"):
            verdict = self.probes.liveness()
        elif path == "/readyz":
            verdict = self.probes.readiness()
        else:
            self.send_error(404, "probes: /livez, /readyz")
            return
        body = verdict.body()
        self.send_response(200 if verdict.ok else 503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return  # a probe every few seconds is not worth a log line


class ProbeServer:
    """The HTTP server and the checker thread of one :class:`Probes`."""

    def __init__(self, probes: Probes, host: str, port: int) -> None:
        self.probes = probes
        handler = type("ProbeHandler", (_Handler,), {"probes": probes})
        try:
            self._server = ThreadingHTTPServer((host, port), handler)
        except OSError as exc:
            raise ProbeError(
                f"cannot serve probes on {host}:{port} ({exc.strerror}); choose another {PORT_ENV}"
            ) from exc
        self._server.daemon_threads = True
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._server.serve_forever, name="probe-http", daemon=True),
            threading.Thread(target=self._check_loop, name="probe-checks", daemon=True),
        ]

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> ProbeServer:
        for thread in self._threads:
            thread.start()
        return self

    def _check_loop(self) -> None:
        while not self._stop.is_set():
            self.probes.run_checks()
            self._stop.wait(self.probes.check_every_s)

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()


#: The process-wide probes: loops beat here wherever they run.
PROBES = Probes()


def require(loop: str) -> None:
    PROBES.require(loop)


def beat(loop: str) -> None:
    PROBES.beat(loop)


def start(
    bootstrap: str,
    host: str,
    port: int,
    *,
    loops: Iterable[str] = (),
    clickhouse_dsn: str | None = None,
    probes: Probes = PROBES,
) -> ProbeServer:
    """Serve ``probes`` on ``host:port`` with the Kafka check (and, given a server's
    ``clickhouse_dsn``, ClickHouse's); ``loops`` must beat from now on."""
    for loop in loops:
        probes.require(loop)
    probes.add_check("kafka", kafka_check(bootstrap))
    ping = clickhouse_check(clickhouse_dsn) if clickhouse_dsn else None
    if ping is not None:
        probes.add_check("clickhouse", ping)
    server = ProbeServer(probes, host, port).start()
    log.info("probes served", extra={"port": server.port, "loops": sorted(probes.required)})
    return server


def env_port() -> int | None:
    """``STREAMHUB_PROBE_PORT``, or None when unset (no probe server)."""
    text = os.environ.get(PORT_ENV, "").strip()
    if not text or text == "0":
        return None
    if not text.isdigit():
        raise ProbeError(f"{PORT_ENV}={text!r}: expected a port number")
    return int(text)


def start_from_env(
    settings: Settings, *, loops: Iterable[str] = (), clickhouse_dsn: str | None = None
) -> ProbeServer | None:
    """:func:`start` on ``STREAMHUB_PROBE_PORT`` when it is set; None (no server) otherwise.
    ``clickhouse_dsn``: the lander's (checked when it names a server). The one line a process
    adds at start-up."""
    port = env_port()
    if port is None:
        return None
    return start(
        settings.kafka_bootstrap,
        settings.metrics_host,
        port,
        loops=loops,
        clickhouse_dsn=clickhouse_dsn,
    )
