"""Prometheus and promtool from the Debian package `prometheus`.

The project does not run a Prometheus of its own in the stack (operators scrape with theirs,
using monitoring/prometheus.yml); it needs the binaries to check the alert rules
(`promtool check rules`, `promtool test rules`) and for the test that scrapes a running
pipeline. `streamhub stack up` installs the package when it is missing (root only).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from streamhub.stack import process
from streamhub.stack.errors import MissingSoftwareError

PACKAGE = "prometheus"
# where the Debian package puts them; PATH may lack /usr/bin in odd shells
_DEBIAN_BIN = Path("/usr/bin")


@dataclass(frozen=True, slots=True)
class PrometheusTools:
    server: Path
    promtool: Path

    def version(self) -> str:
        """`promtool --version`'s version number, e.g. 2.42.0."""
        out = process.run([str(self.promtool), "--version"], "promtool --version", timeout=30)
        found = re.search(r"version (\S+)", out)
        return found.group(1) if found else out.strip().splitlines()[0]


def _which(name: str) -> Path | None:
    found = shutil.which(name)
    if found:
        return Path(found)
    candidate = _DEBIAN_BIN / name
    return candidate if candidate.exists() else None


def find_tools() -> PrometheusTools | None:
    server, promtool = _which("prometheus"), _which("promtool")
    if server is None or promtool is None:
        return None
    return PrometheusTools(server, promtool)


def ensure_installed() -> tuple[PrometheusTools, str]:
    """The binaries, installing the Debian package first if needed; and what was done.

    Raises MissingSoftwareError (with the apt-get command) when absent and not root.
    """
    tools = find_tools()
    if tools is not None:
        return tools, "present"
    with _no_service_start():
        process.apt_install([PACKAGE], "Prometheus (server and promtool)")
    tools = find_tools()
    if tools is None:
        raise MissingSoftwareError(
            f"the Debian package {PACKAGE} installed but prometheus/promtool are not on PATH "
            f"or in {_DEBIAN_BIN}; check `dpkg -L {PACKAGE}`"
        )
    return tools, "installed"


_POLICY = Path("/usr/sbin/policy-rc.d")


@contextmanager
def _no_service_start() -> Iterator[None]:
    """The package's post-install would start a system Prometheus on :9090 of every
    interface; Debian's policy-rc.d hook (exit 101 = "not allowed") stops that. A policy
    the machine already has is left as it is."""
    if _POLICY.exists() or not process.is_root():
        yield
        return
    _POLICY.write_text("#!/bin/sh\n# streamhub: no service starts while installing\nexit 101\n")
    _POLICY.chmod(0o755)
    try:
        yield
    finally:
        _POLICY.unlink(missing_ok=True)
