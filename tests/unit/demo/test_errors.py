"""The demo's errors share the package's root and name the worker to blame."""

from __future__ import annotations

from streamhub.demo.errors import DemoError, WorkerError
from streamhub.errors import StreamhubError


def test_a_worker_error_names_the_worker() -> None:
    error = WorkerError("`streamhub land` exited with 1; see land.log", worker="land")
    assert isinstance(error, DemoError) and isinstance(error, StreamhubError)
    assert error.worker == "land"
    assert WorkerError("the pipeline did not drain").worker is None
