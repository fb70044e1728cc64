"""The dashboard's figures read from the recent partitions only (migration 0007).

Each figure is the one of the 0003 views (DOMAIN.md, the ``dashboard.final.*`` queries of
:mod:`.catalog`), computed as ``FINAL`` over the versions committed since a window start
(``PREWHERE commit_time >= since``: filtered before the merge, which prunes the older
commit-day partitions). Exact when no version carries an event later than its commit plus a
day: its record's latest version is then in the window (a later version has a later commit),
and no version outside the window is needed. Each query counts the versions that break it
(a scalar subquery on minmax indexes) and, while any exists, answers from the 0003 views
instead: ClickHouse skips the branch whose constant condition is false
(docs/decisions/dashboard-volume.md). Inpatients on hand is a snapshot of the whole history
and stays on its 0003 view.
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


# Fee lines charged today; an encounter's type by (institution_id, encounter_id), which a
# record keeps for life, so the PREWHERE on it before FINAL drops whole records only.
_FEES_TODAY = f"""
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
LEFT JOIN (
  SELECT institution_id, encounter_id, any(encounter_type) AS encounter_type
  FROM std_encounter FINAL
  PREWHERE (institution_id, encounter_id) IN (
    SELECT institution_id, encounter_id FROM std_charge
    WHERE commit_time >= {_SINCE_TODAY} AND encounter_id IS NOT NULL
      AND toDate(charged_time, 'Asia/Shanghai') = {_TODAY})
  WHERE encounter_id IS NOT NULL
  GROUP BY institution_id, encounter_id
) AS e ON c.institution_id = e.institution_id AND c.encounter_id = e.encounter_id
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

_TODAY_SQL = f"""
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
  SELECT institution_id, 0, 0, 0, inpatients, toDecimal128(0, 2), 0, 0 FROM v_inpatients_on_hand
  UNION ALL
  SELECT institution_id, 0, 0, 0, 0, toDecimal128(outpatient_revenue, 2), 0, 0
  FROM ({_FEES_TODAY})
  UNION ALL
  SELECT institution_id, 0, 0, 0, 0, toDecimal128(0, 2), lab_reports, exams
  FROM ({_REPORTS_TODAY})
)
GROUP BY institution_id
"""  # noqa: S608 - constant SQL

_FEES_SQL = f"SELECT institution_id, drug_revenue, fee_revenue FROM ({_FEES_TODAY})"  # noqa: S608

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
# query name → (its SQL over the recent partitions, the count of versions that break it)
RECENT = {
    "dashboard.today": (_TODAY_SQL, _EARLY_TODAY),
    "dashboard.fees": (_FEES_SQL, _EARLY_FEES),
    "dashboard.minutes": (_MINUTES_SQL, _EARLY_WEEK),
}

WINDOW_CHECK = NamedQuery(
    "dashboard.window_check",
    f"SELECT {_EARLY_TODAY} AS early_today, {_EARLY_WEEK} AS early_last_week",
    {"last_week": Param("Date")},
    description="versions the recent windows of dashboard.* cannot see (0: none)",
)


def guarded(final: list[NamedQuery]) -> list[NamedQuery]:
    """``dashboard.X`` for every ``dashboard.final.X`` of :data:`RECENT`: its recent-window
    SQL while no version breaks the window, the 0003-view SQL otherwise; same parameters."""
    out = []
    for query in final:
        name = query.name.replace(FINAL_PREFIX, "dashboard.", 1)
        if not query.name.startswith(FINAL_PREFIX) or name not in RECENT:
            continue
        recent, early = RECENT[name]
        sql = (
            f"SELECT * FROM ({recent}) WHERE {early} = 0\n"  # noqa: S608 - constant SQL
            f"UNION ALL\nSELECT * FROM ({query.sql}) WHERE {early} > 0"
        )
        out.append(NamedQuery(name, sql, dict(query.params)))
    return out
