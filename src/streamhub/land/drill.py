"""FAULT INJECTION for drills and tests only, chosen once when the lander starts.

``STREAMHUB_FAULT_DROP_VERSIONS=N`` makes the lander silently lose every std record whose
``version_id(record_id, source_position_seq) % N == 0`` (Python's modulo, so never negative):
no insert, no landed count, offsets committed as if landed. It produces the "lost rows"
reconciliation must report as MISSING and ``streamhub reconcile diff`` must name. Never set
it in production: unset, the lander's inserter is used as it is and nothing here runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence

from streamhub.core.identity import version_id
from streamhub.land.batch import PendingRow, TableRows
from streamhub.land.errors import LanderConfigError
from streamhub.land.insert import Inserter, Landing
from streamhub.land.targets import Target
from streamhub.log import get_logger

log = get_logger(__name__)

FAULT_DROP_ENV = "STREAMHUB_FAULT_DROP_VERSIONS"


def drop_every_from_env(environ: Mapping[str, str] = os.environ) -> int:
    """N from :data:`FAULT_DROP_ENV`, 0 when unset."""
    text = environ.get(FAULT_DROP_ENV, "").strip()
    if not text:
        return 0
    if not text.isdigit() or int(text) < 1:
        raise LanderConfigError(
            f"{FAULT_DROP_ENV}={text!r}: expected a whole number >= 1 (or unset)"
        )
    log.warning(
        "FAULT INJECTION: dropping std records", extra={"env": FAULT_DROP_ENV, "every": int(text)}
    )
    return int(text)


def drop_for_drill(rows: Sequence[PendingRow], every: int) -> Sequence[PendingRow]:
    """The rows the drill keeps: those whose version is not divisible by ``every``."""
    kept: list[int] = []
    for index, row in enumerate(rows):
        record = row.record
        version = version_id(record["record_id"], record["source_position_seq"])
        if version % every:
            kept.append(index)
            continue
        log.warning(
            "FAULT INJECTION: std record dropped",
            extra={
                "institution": record["institution_id"],
                "table": record["source_table"],
                "source_key": record["source_key"],
                "version": version,
            },
        )
    if isinstance(rows, TableRows):
        return rows.select(kept)
    return [rows[i] for i in kept]


class DroppingInserter:
    """Loses the drill's std records, then inserts the rest with ``inner``."""

    def __init__(self, inner: Inserter, every: int) -> None:
        self._inner = inner
        self._every = every

    def insert(self, target: Target, rows: Sequence[PendingRow]) -> Landing:
        if target.entity is not None:
            rows = drop_for_drill(rows, self._every)
            if not rows:
                return Landing()
        return self._inner.insert(target, rows)


def drill_from_env(environ: Mapping[str, str] = os.environ) -> Callable[[Inserter], Inserter]:
    """What the lander wraps its inserter in: nothing unless :data:`FAULT_DROP_ENV` is set
    (refused at start-up when it is not a whole number >= 1)."""
    every = drop_every_from_env(environ)
    if not every:
        return lambda inserter: inserter
    return lambda inserter: DroppingInserter(inserter, every)
