"""A detector killed with -9 and started again at once comes back.

The killed worker stays a member of its group until its session times out (10 s); the warm
start's commit of where its replay stopped was refused meanwhile (UNKNOWN_MEMBER_ID) and the
restarted worker exited, so bench/region.py's round saw no anomaly at all after its restart.
"""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path

from streamhub.config import Settings
from tests.integration.anomaly.harness import AnomalyRun


def test_a_worker_restarted_right_after_kill_9_waits_out_the_old_session_and_runs(
    capture_settings: Settings, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    run = AnomalyRun(capture_settings, tmp_path, prefix=f"rk{tag[:6]}", tag=tag)
    options = ("--history", "1m", "--tick-s", "1")
    try:
        run.start(*options)
        run.wait_ready()
        assert run.process is not None
        run.process.send_signal(signal.SIGKILL)
        run.process.wait(30)
        run.start(*options)  # at once: the killed member's session is still open
        run.wait_ready(timeout_s=90)
        time.sleep(3)
        run.check_alive()
        assert run.stop() == 0, run.log_tail()
    finally:
        if run.process is not None and run.process.poll() is None:
            run.process.kill()
