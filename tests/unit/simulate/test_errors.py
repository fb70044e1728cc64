"""The simulator's errors carry what an operator acts on, beside the message."""

from __future__ import annotations

from streamhub.simulate.errors import SimulatorError, SourceWriteError


def test_a_refused_batch_names_its_database_and_engine() -> None:
    error = SourceWriteError("writing 3 changes failed", database="sim_h01_his", engine="mariadb")
    assert isinstance(error, SimulatorError)
    assert (error.database, error.engine, str(error)) == (
        "sim_h01_his",
        "mariadb",
        "writing 3 changes failed",
    )
