"""The operators' console lists at a province's count: filtered, worst first, one page each.

Every list takes the same "who" filter: an exact institution, a district (the GB/T 2260
division inside the credit code, characters 3-8, or ``unknown`` for codes outside the
region catalogue) and a search text (a substring of the institution id, or an id among
``named``: the institutions whose *name* matched, resolved by the web app from the connector
files, since names are not in ClickHouse). Filtering, ordering and LIMIT/OFFSET run in
ClickHouse with bound parameters; the order is one of a fixed set of named queries (an
allow-list: the caller picks ``worst``, ``newest`` or ``institution``, never SQL).
"""

from __future__ import annotations

from streamhub.query.named import NamedQuery, Param

RECON_STATUSES = ("MATCH", "MISSING", "EXCESS", "LATE", "PENDING")
ANOMALY_STATES = ("open", "suppressed", "recovered")
SORTS = ("worst", "newest", "institution")
MAX_PAGE_ROWS = 200

# IN, not has(): a set lookup per row, and on institution_id (the tables' first key column)
# one ClickHouse can prune granules with (has() over 100 names: 7 s of CPU on a day's windows)
_WHO = """
  AND ({institution:String} = '' OR institution_id = {institution:String})
  AND multiIf({district:String} = '', 1,
              {district:String} = 'unknown',
              substring(institution_id, 3, 6) NOT IN {known_regions:Array(String)},
              substring(institution_id, 3, 6) = {district:String})
  AND ({search:String} = ''
       OR institution_id IN {named:Array(String)}
       OR positionCaseInsensitive(institution_id, {search:String}) > 0)
"""
_WHO_PARAMS = {
    "institution": Param("String", default=""),
    "district": Param("String", default=""),
    "known_regions": Param("Array(String)", default=[]),
    "search": Param("String", default=""),
    "named": Param("Array(String)", default=[]),
}
_PAGE = "LIMIT {limit:UInt32} OFFSET {offset:UInt32}"
_PAGE_PARAMS = {"limit": Param("UInt32", default=50), "offset": Param("UInt32", default=0)}
_SINCE = {"since": Param("Int64")}

# -- reconciliation windows -------------------------------------------------------------------
# problems first: a missing change is worse than an excess one, a pending verdict than a late one
_RECON_RANK = (
    "multiIf(status = 'MISSING', 0, status = 'EXCESS', 1, status = 'PENDING', 2, "
    "status = 'LATE', 3, 4)"
)
_RECON_ORDER = {
    "worst": f"{_RECON_RANK}, abs(difference) DESC, window_start_ms DESC, institution_id, "
    "system, table",
    "newest": "window_start_ms DESC, institution_id, system, table",
    "institution": "institution_id, system, table, window_start_ms DESC",
}
_RECON_WHERE = f"WHERE window_start_ms >= {{since:Int64}}{_WHO}"


def _recon_keys(sort: str) -> NamedQuery:
    # a page in two steps: the keys of its windows first (the ordering reads five columns of
    # every window instead of all seventeen: half the CPU at a day's 8.5 million windows),
    # then their rows by key (RECON_ROWS)
    return NamedQuery(
        f"console.reconciliation.keys.{sort}",
        f"""
SELECT institution_id, system, ifNull(database, '') AS database, table, window_start_ms
FROM v_reconciliation_current
{_RECON_WHERE}  AND ({{status:String}} = '' OR status = {{status:String}})
ORDER BY {_RECON_ORDER[sort]}
{_PAGE}
""",  # noqa: S608 - constant fragments; every value is a bound parameter
        {
            **_SINCE,
            **_WHO_PARAMS,
            **_PAGE_PARAMS,
            "status": Param("String", "", ("", *RECON_STATUSES)),
        },
        description=f"the keys of one page of reconciliation windows, {sort} first",
    )


RECON_ROWS = NamedQuery(
    "console.reconciliation.rows",
    """
SELECT * FROM v_reconciliation_current
WHERE institution_id IN {institutions:Array(String)}
  AND concat(institution_id, '|', system, '|', ifNull(database, ''), '|', table, '|',
             toString(window_start_ms)) IN {keys:Array(String)}
""",
    {"institutions": Param("Array(String)"), "keys": Param("Array(String)")},
    description="the windows of one page by key (institution|system|database|table|start)",
)


RECON_COUNTS = NamedQuery(
    "console.reconciliation.counts",
    f"""
SELECT status, count() AS windows FROM v_reconciliation_current
{_RECON_WHERE}
GROUP BY status
""",  # noqa: S608 - constant fragments; every value is a bound parameter
    {**_SINCE, **_WHO_PARAMS},
    description="windows per verdict under the list's filters (the status chips)",
)

# -- reconciliation per institution and day ---------------------------------------------------
# worst: the most windows not matched, then the largest difference
_DAILY_ORDER = {
    "worst": "missing_windows + excess_windows DESC, abs(difference) DESC, day DESC, "
    "institution_id",
    "newest": "day DESC, institution_id",
    "institution": "institution_id, day DESC",
}


def _daily_page(sort: str) -> NamedQuery:
    return NamedQuery(
        f"console.reconciliation.daily_page.{sort}",
        f"""
SELECT *, count() OVER () AS total_rows FROM v_reconciliation_daily
WHERE day >= toDate(fromUnixTimestamp64Milli({{since:Int64}}), 'Asia/Shanghai'){_WHO}
ORDER BY {_DAILY_ORDER[sort]}
{_PAGE}
""",  # noqa: S608 - constant fragments; every value is a bound parameter
        {**_SINCE, **_WHO_PARAMS, **_PAGE_PARAMS},
        description=f"one page of the daily reconciliation totals, {sort} first",
    )


# -- anomalies --------------------------------------------------------------------------------
# open ones always (however old), recovered ones of the period
_ANOMALY_STATE = (
    "multiIf(NOT recovered AND NOT suppressed, 'open', NOT recovered, 'suppressed', 'recovered')"
)
_ANOMALY_ORDER = {
    "worst": "multiIf(state = 'open', 0, state = 'suppressed', 1, 2), "
    "ifNull(severity, '') = 'CRITICAL' DESC, start_ms DESC, anomaly_id",
    "newest": "last_event_ts_ms DESC, anomaly_id",
    "institution": "institution_id, start_ms DESC, anomaly_id",
}
_ANOMALY_FROM = f"""
FROM (SELECT *, {_ANOMALY_STATE} AS state FROM v_anomaly_current)
WHERE (state != 'recovered' OR last_event_ts_ms >= {{since:Int64}}){_WHO}"""  # noqa: S608


def _anomaly_page(sort: str) -> NamedQuery:
    return NamedQuery(
        f"console.anomalies.page.{sort}",
        f"""
SELECT *{_ANOMALY_FROM}
  AND ({{state:String}} = '' OR state = {{state:String}})
  AND NOT ({{open:Bool}} AND state = 'recovered')
ORDER BY {_ANOMALY_ORDER[sort]}
{_PAGE}
""",
        {
            **_SINCE,
            **_WHO_PARAMS,
            **_PAGE_PARAMS,
            "state": Param("String", "", ("", *ANOMALY_STATES)),
            "open": Param("Bool", default=False),
        },
        description=f"one page of anomalies, {sort} first",
    )


ANOMALY_COUNTS = NamedQuery(
    "console.anomalies.counts",
    f"""
SELECT state, count() AS anomalies{_ANOMALY_FROM}
GROUP BY state
""",
    {**_SINCE, **_WHO_PARAMS},
    description="anomalies per state under the list's filters (the status chips)",
)

CONSOLE_PAGES = [
    *(_recon_keys(sort) for sort in SORTS),
    RECON_ROWS,
    RECON_COUNTS,
    *(_daily_page(sort) for sort in SORTS),
    *(_anomaly_page(sort) for sort in SORTS),
    ANOMALY_COUNTS,
]
