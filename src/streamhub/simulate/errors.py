"""Errors of the simulator, each naming what to fix."""

from streamhub.errors import StreamhubError


class SimulatorError(StreamhubError):
    """The simulator could not do what was asked."""


class DialectError(SimulatorError):
    """A dialect file is malformed or does not cover what the workload produces."""

    exit_code = 2


class FaultSpecError(SimulatorError):
    """A ``--fault`` specification or fault command cannot be parsed."""

    exit_code = 2


class SourceWriteError(SimulatorError):
    """A source database refused a batch; the run stops so the ledger stays true.

    ``database`` names the simulated institution's database (``engine``: postgres or
    mariadb) that refused it, when known."""

    def __init__(
        self, message: str, *, database: str | None = None, engine: str | None = None
    ) -> None:
        super().__init__(message)
        self.database = database
        self.engine = engine


class LedgerError(SimulatorError):
    """A ledger file is missing or unreadable."""
