"""The lander's /metrics listens on loopback only: not reachable on the host's other addresses."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.commands import STREAMHUB


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening_addresses(port: int) -> set[str]:
    """Local addresses of the TCP sockets listening on ``port`` (from /proc/net/tcp{,6})."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                address, hex_port = fields[1].split(":")
                if int(hex_port, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                    if width == 8:
                        found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
                    else:
                        words = bytes.fromhex(address)
                        raw = b"".join(words[i : i + 4][::-1] for i in range(0, 16, 4))
                        found.add(socket.inet_ntop(socket.AF_INET6, raw))
    return found


def non_loopback_address() -> str | None:
    """An address of this host other than loopback (the one its default route uses)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.123", 9))  # no packet is sent for a UDP connect
        except OSError:
            return None
        address = str(s.getsockname()[0])
    return None if address.startswith("127.") else address


def test_lander_metrics_bind_loopback_only(
    new_topic: Callable[..., str], unique: Callable[[str], str], tmp_path: Path
) -> None:
    dsn, db = f"chdb://{tmp_path / 'ch'}", "metrics_bind"
    migrated = subprocess.run(
        [*STREAMHUB, "clickhouse", "migrate", "--dsn", dsn, "--database", db],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stderr
    port = _free_port()
    lander = subprocess.Popen(
        [
            *STREAMHUB,
            "land",
            "--dsn",
            dsn,
            "--database",
            db,
            "--group",
            unique("metrics"),
            "--topic",
            f"{new_topic('ops-quality')}=ops_quality",
            "--until-idle",
            "60",
            "--dlq-topic",
            new_topic("dlq"),
            "--landed-counts-topic",
            new_topic("counts"),
            "--metrics-port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not listening_addresses(port):
            if lander.poll() is not None:
                pytest.fail(f"the lander exited: {lander.stderr.read() if lander.stderr else ''}")
            assert time.monotonic() < deadline, "the lander's metrics port never opened"
            time.sleep(0.2)
        assert listening_addresses(port) == {"127.0.0.1"}
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass  # scraping locally works
        outside = non_loopback_address()
        if outside is not None:
            with pytest.raises(OSError), socket.create_connection((outside, port), timeout=2):
                pass
    finally:
        lander.terminate()
        lander.wait(60)
