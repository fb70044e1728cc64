"""Source counts of an Oracle source captured by Debezium: the queries, rendered (not run).

Two counts Oracle can give independently of Debezium:

* **Changes per table and commit minute** from LogMiner (:func:`logminer_count_sql`):
  ``V$LOGMNR_CONTENTS`` of a LogMiner session started with ``COMMITTED_DATA_ONLY`` (only
  committed transactions, each with its ``COMMIT_TIMESTAMP``) over the redo of the counted
  SCN range, grouped by owner, table and the UTC minute of the commit; ``OPERATION_CODE`` 1
  insert, 3 update, 2 delete; only the last row of a statement (``CSF = 0``: a change whose
  redo SQL is continued over several rows is one change).
* **Rows of a table at an SCN** (:func:`flashback_count_sql`): ``SELECT COUNT(*) … AS OF SCN``
  (flashback query, within ``UNDO_RETENTION``), the row count at a known position that the
  reconciler's state check compares with ClickHouse.

Rendered and unit-tested only (no Oracle here), and not wired to ``streamhub debezium counts``:
a LogMiner session needs its redo and archive log files chosen and added for the SCN range
(``DBMS_LOGMNR.ADD_LOGFILE`` from ``V$ARCHIVED_LOG``/``V$LOGFILE``; ``CONTINUOUS_MINE`` is
desupported since 19c), i.e. a second log-mining session manager beside Debezium's own, which
mines the same redo again on the hospital's server; that is left until it can be run against a
real Oracle (see docs/decisions/debezium.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from streamhub.debezium.errors import DebeziumError

#: an Oracle identifier as Debezium's include list names it (unquoted: letters, digits, _ $ #)
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_$#]{0,127}$")
_TZ = re.compile(r"^(?:[A-Za-z_]+(?:/[A-Za-z_+\-]+){0,2}|[+\-]\d{2}:\d{2})$")

_LOGMINER = """\
SELECT c.SEG_OWNER AS owner,
       c.TABLE_NAME AS table_name,
       (CAST(TRUNC(CAST(SYS_EXTRACT_UTC(FROM_TZ(CAST(c.COMMIT_TIMESTAMP AS TIMESTAMP),
                                                '<tz>')) AS DATE), 'MI') AS DATE)
          - DATE '1970-01-01') * 86400000 AS window_start_ms,
       SUM(CASE WHEN c.OPERATION_CODE = 1 THEN 1 ELSE 0 END) AS inserts,
       SUM(CASE WHEN c.OPERATION_CODE = 3 THEN 1 ELSE 0 END) AS updates,
       SUM(CASE WHEN c.OPERATION_CODE = 2 THEN 1 ELSE 0 END) AS deletes
FROM V$LOGMNR_CONTENTS c
WHERE c.OPERATION_CODE IN (1, 2, 3)
  AND c.CSF = 0
  AND (c.SEG_OWNER, c.TABLE_NAME) IN (<tables>)
  AND c.COMMIT_SCN >= :start_scn AND c.COMMIT_SCN < :end_scn
GROUP BY c.SEG_OWNER, c.TABLE_NAME,
         TRUNC(CAST(SYS_EXTRACT_UTC(FROM_TZ(CAST(c.COMMIT_TIMESTAMP AS TIMESTAMP),
                                            '<tz>')) AS DATE), 'MI')
ORDER BY 3, 1, 2"""

#: the LogMiner session the count runs in (log files added first for the SCN range)
START_LOGMINER = (
    "BEGIN DBMS_LOGMNR.START_LOGMNR(STARTSCN => :start_scn, ENDSCN => :end_scn, "
    "OPTIONS => DBMS_LOGMNR.DICT_FROM_ONLINE_CATALOG + DBMS_LOGMNR.COMMITTED_DATA_ONLY); END;"
)
END_LOGMINER = "BEGIN DBMS_LOGMNR.END_LOGMNR; END;"


class OracleQueryError(DebeziumError):
    """A name that cannot be put in an Oracle counting query as it is."""


def owner_table(name: str) -> tuple[str, str]:
    """``OWNER.TABLE`` of a connector file (as Debezium's include list has it), upper-cased as
    Oracle stores unquoted names."""
    owner, dot, table = name.partition(".")
    if not dot or not _NAME.match(owner) or not _NAME.match(table):
        raise OracleQueryError(
            f"table {name!r} is not OWNER.TABLE with plain Oracle names; name it as the "
            "data dictionary has it (a quoted mixed-case name is not supported here)"
        )
    return owner.upper(), table.upper()


def logminer_count_sql(tables: Sequence[str], db_time_zone: str = "Asia/Shanghai") -> str:
    """Changes per table and UTC commit minute in ``[:start_scn, :end_scn)`` of the running
    LogMiner session (rows: owner, table, minute start as UTC epoch ms, inserts, updates,
    deletes). ``db_time_zone``: the zone ``COMMIT_TIMESTAMP`` (a DATE) is in, the database's."""
    if not tables:
        raise OracleQueryError("no table to count")
    if not _TZ.match(db_time_zone):
        raise OracleQueryError(
            f"time zone {db_time_zone!r} is not a region name or offset (V$TIMEZONE_NAMES)"
        )
    # names checked by owner_table (letters, digits, _ $ #): safe between quotes
    pairs = ", ".join(f"('{o}', '{t}')" for o, t in (owner_table(n) for n in tables))
    return _LOGMINER.replace("<tables>", pairs).replace("<tz>", db_time_zone)


def flashback_count_sql(table: str) -> str:
    """The table's rows at ``:scn`` (flashback query): a row count at a known position."""
    owner, name = owner_table(table)
    # names checked by owner_table (letters, digits, _ $ #); the SCN is a bind variable
    return f'SELECT COUNT(*) FROM "{owner}"."{name}" AS OF SCN :scn'  # noqa: S608
