"""The dashboard's figures read from the recent partitions only (migration 0007).

Each figure is the one of the 0003 views (DOMAIN.md, the ``dashboard.final.*`` queries of
:mod:`.catalog`), computed as ``FINAL`` over the versions committed since a window start
(``PREWHERE commit_time >= since``: filtered before the merge, which prunes the older
commit-day partitions). Exact when no version carries an event later than its commit plus a
day: its record's latest version is then in the window (a later version has a later commit),
and no version outside the window is needed. Each query counts the versions that break it
(a scalar subquery on minmax indexes) and, while any exists, answers from the 0003 views
instead: ClickHouse skips the branch whose constant condition is false
(docs/decisions/dashboard-volume.md).

The two parts the window cannot hold read the state tables of migration 0009 instead of the
whole history: inpatients on hand is ``FINAL`` over ``inpatient_state`` (the inpatient records
only), and a fee line's encounter type comes from the window's encounters or, for an
encounter with no version in the window (admitted long ago), from ``encounter_kind`` through
its primary key. :func:`guarded` with ``state=False`` gives the 0007 form (the bench's
"before").
"""

from __future__ import annotations

from streamhub.query.named import NamedQuery, Param

FINAL_PREFIX = "dashboard.final."

# Window starts: a day before the first Shanghai day shown (the margin for clocks).
_TODAY = "toDate(now(), 'Asia/Shanghai')"
_SINCE_TODAY = f"toDateTime({_TODAY}, 'Asia/Shanghai') - INTERVAL 1 DAY"
_SINCE_LAST_WEEK = "toDateTime({last_week:Date}, 'Asia/Shanghai') - INTERVAL 1 DAY"

_EVENTS = """
ARRAY JOIN arrayFilter(x -> isNotNull(x.2), [
    ('visit', if(encounter_type IN ('outpatient', 'emergency'),
                 coalesce(visit_time, registered_time), NULL)),
    ('admission', if(encounter_type = 'inpatient', registered_time, NULL)),
    ('discharge', if(encounter_type = 'inpatient', discharge_time, NULL))
]) AS ev
WHERE NOT cancelled AND coalesce(status, '') != 'withdrawn'
"""


def _encounters(since: str) -> str:
    columns = "institution_id, encounter_type, registered_time, visit_time, discharge_time"
    return f"SELECT {columns}, status, cancelled FROM std_encounter FINAL PREWHERE commit_time >= {since}"  # noqa: S608, E501


# (institution_id, encounter_id) of today's fee lines, and of the window's encounter versions
_FEE_ENCOUNTERS = f"""
SELECT institution_id, encounter_id FROM std_charge
WHERE commit_time >= {_SINCE_TODAY} AND encounter_id IS NOT NULL
  AND toDate(charged_time, 'Asia/Shanghai') = {_TODAY}
"""  # noqa: S608 - constant SQL
_WINDOW_ENCOUNTERS = f"""
SELECT institution_id, encounter_id FROM std_encounter
WHERE commit_time >= {_SINCE_TODAY} AND encounter_id IS NOT NULL
"""  # noqa: S608 - constant SQL

# The type of today's fee lines' encounters (0007): FINAL over every version of those
# encounters; the PREWHERE on (institution_id, encounter_id), which a record keeps for life,
# drops whole records only, but reads the encounter_id column of the whole history.
_TYPES_0007 = f"""
SELECT institution_id, encounter_id, any(encounter_type) AS encounter_type
FROM std_encounter FINAL
PREWHERE (institution_id, encounter_id) IN ({_FEE_ENCOUNTERS})
WHERE encounter_id IS NOT NULL
GROUP BY institution_id, encounter_id
"""  # noqa: S608 - constant SQL

# 0009: an encounter with a version in the window has its record's latest version there
# (later versions are committed later), so FINAL over the window gives its type (or drops
# it, deleted); only the others, admitted before the window, are looked up in
# encounter_kind, whose sort key starts with (institution_id, encounter_id): the index
# reads their granules only. One record per encounter id, as the 0003 view assumes.
_TYPES_STATE = f"""
SELECT institution_id, encounter_id, any(encounter_type) AS encounter_type FROM (
  SELECT institution_id, assumeNotNull(encounter_id) AS encounter_id, encounter_type
  FROM std_encounter FINAL
  PREWHERE commit_time >= {_SINCE_TODAY}
    AND (institution_id, encounter_id) IN ({_FEE_ENCOUNTERS})
  WHERE encounter_id IS NOT NULL
  UNION ALL
  SELECT institution_id, encounter_id, encounter_type FROM encounter_kind FINAL
  PREWHERE (institution_id, encounter_id) IN (
    SELECT institution_id, assumeNotNull(encounter_id) FROM ({_FEE_ENCOUNTERS})
    WHERE (institution_id, encounter_id) NOT IN ({_WINDOW_ENCOUNTERS}))
)
GROUP BY institution_id, encounter_id
"""  # noqa: S608 - constant SQL


def _fees_today(types: str) -> str:
    """Fee lines charged today per institution, the outpatient ones by their encounter's
    type (``types``: institution_id, encounter_id, encounter_type)."""
    return f"""
SELECT c.institution_id AS institution_id,
       sum(coalesce(c.amount, 0)) AS fee_revenue,
       sumIf(coalesce(c.amount, 0), coalesce(c.is_drug, false)) AS drug_revenue,
       sumIf(coalesce(c.amount, 0), e.encounter_type IN ('outpatient', 'emergency'))
           AS outpatient_revenue
FROM (
  SELECT institution_id, encounter_id, amount, is_drug, charged_time
  FROM std_charge FINAL PREWHERE commit_time >= {_SINCE_TODAY}
  WHERE charge_kind = 'fee' AND NOT cancelled AND charged_time IS NOT NULL
    AND toDate(charged_time, 'Asia/Shanghai') = {_TODAY}
) AS c
LEFT JOIN ({types}) AS e
  ON c.institution_id = e.institution_id AND c.encounter_id = e.encounter_id
GROUP BY institution_id
"""  # noqa: S608 - constant SQL


_REPORTS_TODAY = f"""
SELECT institution_id, sum(lab) AS lab_reports, sum(exam) AS exams FROM (
  SELECT institution_id, 1 AS lab, 0 AS exam FROM std_lab_report FINAL
  PREWHERE commit_time >= {_SINCE_TODAY}
  WHERE NOT cancelled AND reported_time IS NOT NULL
    AND toDate(assumeNotNull(reported_time), 'Asia/Shanghai') = {_TODAY}
  UNION ALL
  SELECT institution_id, 0, 1 FROM std_exam FINAL
  PREWHERE commit_time >= {_SINCE_TODAY}
  WHERE NOT cancelled AND reported_time IS NOT NULL
    AND toDate(assumeNotNull(reported_time), 'Asia/Shanghai') = {_TODAY}
) GROUP BY institution_id
"""  # noqa: S608 - constant SQL

# 在院人数: the 0003 view (FINAL over every encounter), or the 0009 state table (FINAL over
# the inpatient records; a gone record is dropped by FINAL as a delete is)
_ON_HAND_0007 = "SELECT institution_id, inpatients FROM v_inpatients_on_hand"
_ON_HAND_STATE = (
    "SELECT institution_id, count() AS inpatients FROM inpatient_state FINAL "
    "GROUP BY institution_id"
)


def _today_sql(on_hand: str, fees: str) -> str:
    return f"""
SELECT institution_id, sum(visits) AS visits, sum(admissions) AS admissions,
       sum(discharges) AS discharges, sum(inpatients) AS inpatients_on_hand,
       sum(outpatient_revenue) AS outpatient_revenue, sum(lab_reports) AS lab_reports,
       sum(exams) AS exams
FROM (
  SELECT institution_id, countIf(ev.1 = 'visit') AS visits,
         countIf(ev.1 = 'admission') AS admissions, countIf(ev.1 = 'discharge') AS discharges,
         0 AS inpatients, toDecimal128(0, 2) AS outpatient_revenue, 0 AS lab_reports, 0 AS exams
  FROM ({_encounters(_SINCE_TODAY)}) {_EVENTS}
    AND toDate(assumeNotNull(ev.2), 'Asia/Shanghai') = {_TODAY}
  GROUP BY institution_id
  UNION ALL
  SELECT institution_id, 0, 0, 0, inpatients, toDecimal128(0, 2), 0, 0 FROM ({on_hand})
  UNION ALL
  SELECT institution_id, 0, 0, 0, 0, toDecimal128(outpatient_revenue, 2), 0, 0
  FROM ({fees})
  UNION ALL
  SELECT institution_id, 0, 0, 0, 0, toDecimal128(0, 2), lab_reports, exams
  FROM ({_REPORTS_TODAY})
)
GROUP BY institution_id
"""  # noqa: S608 - constant SQL


def _fees_sql(fees: str) -> str:
    return f"SELECT institution_id, drug_revenue, fee_revenue FROM ({fees})"  # noqa: S608


_MINUTES_SQL = f"""
SELECT day, institution_id, groupArray(hm) AS minutes, groupArray(visits) AS visits,
       groupArray(admissions) AS admissions, groupArray(discharges) AS discharges
FROM (
  SELECT toString(toDate(minute)) AS day, institution_id, formatDateTime(minute, '%H:%i') AS hm,
         countIf(event = 'visit') AS visits, countIf(event = 'admission') AS admissions,
         countIf(event = 'discharge') AS discharges
  FROM (
    SELECT institution_id, ev.1 AS event,
           toStartOfMinute(toTimeZone(assumeNotNull(ev.2), 'Asia/Shanghai')) AS minute
    FROM ({_encounters(_SINCE_LAST_WEEK)}) {_EVENTS}
  )
  WHERE toDate(minute) IN ({{today:Date}}, {{last_week:Date}})
  GROUP BY day, institution_id, hm
)
GROUP BY day, institution_id
"""  # noqa: S608 - constant SQL


def _early(table: str, times: tuple[str, ...], first_day: str) -> str:
    """Versions of ``table`` committed before the window that starts a day before
    ``first_day`` (SQL Date) with an event time on or after it (a clock set ahead, a visit
    booked days ahead): the window could miss their record."""
    start = f"toDateTime({first_day}, 'Asia/Shanghai')"
    events = " OR ".join(f"{t} >= {start}" for t in times)
    return (
        f"(SELECT count() FROM {table} "  # noqa: S608 - constant names
        f"WHERE commit_time < {start} - INTERVAL 1 DAY AND ({events}))"
    )


_ENCOUNTER_TIMES = ("registered_time", "visit_time", "discharge_time")
_EARLY_TODAY = " + ".join(
    [
        _early("std_encounter", _ENCOUNTER_TIMES, _TODAY),
        _early("std_charge", ("charged_time",), _TODAY),
        _early("std_lab_report", ("reported_time",), _TODAY),
        _early("std_exam", ("reported_time",), _TODAY),
    ]
)
_EARLY_FEES = _early("std_charge", ("charged_time",), _TODAY)
_EARLY_WEEK = _early("std_encounter", _ENCOUNTER_TIMES, "{last_week:Date}")


def recent(state: bool = True) -> dict[str, tuple[str, str]]:
    """query name → (its SQL over the recent partitions, the count of versions that break
    it); ``state``: the whole-history parts from the 0009 state tables, else as in 0007."""
    on_hand, types = (_ON_HAND_STATE, _TYPES_STATE) if state else (_ON_HAND_0007, _TYPES_0007)
    fees = _fees_today(types)
    return {
        "dashboard.today": (_today_sql(on_hand, fees), _EARLY_TODAY),
        "dashboard.fees": (_fees_sql(fees), _EARLY_FEES),
        "dashboard.minutes": (_MINUTES_SQL, _EARLY_WEEK),
    }


RECENT = recent()

WINDOW_CHECK = NamedQuery(
    "dashboard.window_check",
    f"SELECT {_EARLY_TODAY} AS early_today, {_EARLY_WEEK} AS early_last_week",
    {"last_week": Param("Date")},
    description="versions the recent windows of dashboard.* cannot see (0: none)",
)


def guarded(final: list[NamedQuery], state: bool = True) -> list[NamedQuery]:
    """``dashboard.X`` for every ``dashboard.final.X`` of :func:`recent`: its recent-window
    SQL while no version breaks the window, the 0003-view SQL otherwise; same parameters."""
    queries = RECENT if state else recent(state=False)
    out = []
    for query in final:
        name = query.name.replace(FINAL_PREFIX, "dashboard.", 1)
        if not query.name.startswith(FINAL_PREFIX) or name not in queries:
            continue
        window, early = queries[name]
        sql = (
            f"SELECT * FROM ({window}) WHERE {early} = 0\n"  # noqa: S608 - constant SQL
            f"UNION ALL\nSELECT * FROM ({query.sql}) WHERE {early} > 0"
        )
        out.append(NamedQuery(name, sql, dict(query.params)))
    return out
