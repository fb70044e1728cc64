"""Running the ``streamhub`` command from integration tests, one way for every suite."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

STREAMHUB = [sys.executable, "-m", "streamhub"]


def run_streamhub(
    *args: str, env: Mapping[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``streamhub <args>`` to its end; the caller checks the exit code and output."""
    return subprocess.run(
        [*STREAMHUB, *args],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
