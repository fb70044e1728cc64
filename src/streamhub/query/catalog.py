"""Every query the web app and the CLI read ClickHouse with, registered by name.

This is the whole of what the lander's query endpoint answers (:data:`CATALOG`): a new page
or command that needs another figure adds its query here, reviewed like any code. Values a
caller gives are declared parameters (:class:`~streamhub.query.named.Param`), bound by
ClickHouse, never formatted into the SQL. Definitions of the figures live in the views of
migrations 0003/0004 (DOMAIN.md); the ``check.*`` queries compute today's figures a second
way, from the std_* tables, so a test can hold the dashboard's views to them.
"""

from __future__ import annotations

from streamhub.query.console_pages import CONSOLE_PAGES
from streamhub.query.dashboard_recent import WINDOW_CHECK, guarded
from streamhub.query.named import Catalog, NamedQuery, Param
from streamhub.query.quality_queries import QUALITY_QUERIES

STD_TABLES = (
    "std_patient", "std_encounter", "std_diagnosis", "std_order", "std_charge",
    "std_lab_report", "std_lab_result", "std_exam",
)  # fmt: skip
TREND_METRICS = ("visits", "admissions", "discharges")
_OPTIONAL = Param("String", default="")  # "" means: not filtered on this column
_SINCE = Param("Int64")
_LIMIT = Param("UInt32", default=1000)

_NEWEST_PER_TABLE = " UNION ALL ".join(
    f"SELECT max(_landed_time) AS t FROM {t}"  # noqa: S608 - constant table names
    for t in STD_TABLES
)
_FRESHNESS_SQL = f"SELECT toUnixTimestamp64Milli(max(t)) AS newest FROM ({_NEWEST_PER_TABLE})"  # noqa: S608

PING = NamedQuery("ping", "SELECT 1 AS ok", description="is ClickHouse readable")

# v_dashboard_today and v_fees_by_day both take "today" from ClickHouse's now() in Shanghai.
# dashboard.final.* read the 0003 views over all history; the web app runs dashboard.today,
# .fees, .minutes: the same figures from the recent partitions (dashboard_recent.guarded).
_DASHBOARD = [
    NamedQuery(
        "dashboard.final.today",
        """
SELECT institution_id, visits, admissions, discharges, inpatients_on_hand,
       outpatient_revenue, lab_reports, exams
FROM v_dashboard_today
""",
    ),
    NamedQuery(
        "dashboard.final.fees",
        """
SELECT institution_id, sum(drug_revenue) AS drug_revenue, sum(fee_revenue) AS fee_revenue
FROM v_fees_by_day
WHERE day = toDate(now(), 'Asia/Shanghai')
GROUP BY institution_id
""",
    ),
    # the whole institution × minute table of both days, one row per institution and day:
    # complementary suppression protects every minute of every series together (web/suppression)
    NamedQuery(
        "dashboard.final.minutes",
        """
SELECT day, institution_id, groupArray(hm) AS minutes, groupArray(visits) AS visits,
       groupArray(admissions) AS admissions, groupArray(discharges) AS discharges
FROM (
  SELECT toString(toDate(minute)) AS day, institution_id, formatDateTime(minute, '%H:%i') AS hm,
         sum(visits) AS visits, sum(admissions) AS admissions, sum(discharges) AS discharges
  FROM v_encounters_by_minute
  WHERE toDate(minute) IN ({today:Date}, {last_week:Date})
  GROUP BY day, institution_id, hm
)
GROUP BY day, institution_id
""",
        {"today": Param("Date"), "last_week": Param("Date")},
    ),
    NamedQuery("dashboard.freshness", _FRESHNESS_SQL),
]

_CONSOLE = [
    NamedQuery(
        "console.reconciliation.windows",
        """
SELECT * FROM v_reconciliation_current
WHERE window_start_ms >= {since:Int64}
  AND ({institution:String} = '' OR institution_id = {institution:String})
  AND ({status:String} = '' OR status = {status:String})
ORDER BY window_start_ms DESC, institution_id, system, table LIMIT {limit:UInt32}
""",
        {
            "since": _SINCE,
            "institution": _OPTIONAL,
            "limit": _LIMIT,
            "status": Param("String", "", ("", "MATCH", "MISSING", "EXCESS", "LATE", "PENDING")),
        },
    ),
    NamedQuery(
        "console.reconciliation.daily",
        """
SELECT * FROM v_reconciliation_daily
WHERE day >= toDate(fromUnixTimestamp64Milli({since:Int64}), 'Asia/Shanghai')
  AND ({institution:String} = '' OR institution_id = {institution:String})
ORDER BY day DESC, institution_id
""",
        {"since": _SINCE, "institution": _OPTIONAL},
    ),
    NamedQuery(
        "console.reconciliation.window",
        """
SELECT * FROM v_reconciliation_current
WHERE institution_id = {institution:String} AND system = {system:String}
  AND table = {table:String} AND window_start_ms BETWEEN {from:Int64} AND {to:Int64}
ORDER BY window_start_ms
""",
        {
            "institution": Param("String"),
            "system": Param("String"),
            "table": Param("String"),
            "from": Param("Int64"),
            "to": Param("Int64"),
        },
    ),
    NamedQuery(
        "console.anomalies",
        """
SELECT * FROM v_anomaly_current WHERE NOT ({open:Bool} AND recovered)
ORDER BY last_event_ts_ms DESC LIMIT {limit:UInt32}
""",
        {"open": Param("Bool", default=False), "limit": _LIMIT},
    ),
    NamedQuery(
        "console.anomaly",
        """
SELECT anomaly_id FROM v_anomaly_current WHERE anomaly_id = {id:String}
""",
        {"id": Param("String")},
    ),
    NamedQuery(
        "console.dead_letters",
        """
SELECT ifNull(institution_id, '') AS institution_id, stage, error_type, count() AS count
FROM ops_dead_letters FINAL WHERE failed_ts_ms >= {since:Int64}
GROUP BY institution_id, stage, error_type ORDER BY count DESC
""",
        {"since": _SINCE},
    ),
    NamedQuery(
        "console.quality",
        """
SELECT institution_id, rule, dimension, severity, count() AS count
FROM ops_quality FINAL WHERE event_ts_ms >= {since:Int64}
GROUP BY institution_id, rule, dimension, severity ORDER BY count DESC
""",
        {"since": _SINCE},
    ),
]

# --- today's regional totals computed independently of the dashboard views ----------------
_DAY = "toDate({at}, 'Asia/Shanghai') = {{day:Date}}"
_LIVE_ENCOUNTER = "NOT deleted AND NOT cancelled AND coalesce(status, '') != 'withdrawn'"
_ON_DAY = {"day": Param("Date")}
_CHECKS = [
    NamedQuery(
        "check.encounters_of_day",
        f"""
SELECT
  countIf(encounter_type IN ('outpatient', 'emergency')
          AND {_DAY.format(at="coalesce(visit_time, registered_time)")}) AS visits,
  countIf(encounter_type = 'inpatient' AND registered_time IS NOT NULL
          AND {_DAY.format(at="registered_time")}) AS admissions,
  countIf(encounter_type = 'inpatient' AND discharge_time IS NOT NULL
          AND {_DAY.format(at="discharge_time")}) AS discharges,
  countIf(encounter_type = 'inpatient' AND discharge_time IS NULL
          AND coalesce(status, '') != 'discharged') AS inpatients_on_hand
FROM std_encounter FINAL
WHERE {_LIVE_ENCOUNTER}
""",  # noqa: S608 - constant column names and fragments, values are parameters
        _ON_DAY,
    ),
    # fee lines (not settlements, not refunded) charged that day; outpatient ones by encounter
    NamedQuery(
        "check.fees_of_day",
        f"""
SELECT toString(sum(coalesce(c.amount, 0))) AS fee_revenue,
       toString(sumIf(coalesce(c.amount, 0), coalesce(c.is_drug, false))) AS drug_revenue,
       toString(sumIf(coalesce(c.amount, 0), e.encounter_type IN ('outpatient', 'emergency')))
           AS outpatient_revenue
FROM (
  SELECT institution_id, encounter_id, amount, is_drug FROM std_charge FINAL
  WHERE NOT deleted AND NOT cancelled AND charge_kind = 'fee' AND charged_time IS NOT NULL
    AND {_DAY.format(at="charged_time")}
) AS c
LEFT JOIN (
  SELECT institution_id, encounter_id, any(encounter_type) AS encounter_type
  FROM std_encounter FINAL WHERE NOT deleted AND encounter_id IS NOT NULL
  GROUP BY institution_id, encounter_id
) AS e ON c.institution_id = e.institution_id AND c.encounter_id = e.encounter_id
""",  # noqa: S608 - constant column names and fragments, values are parameters
        _ON_DAY,
    ),
    NamedQuery(
        "check.reports_of_day",
        f"""
SELECT
  (SELECT count() FROM std_lab_report FINAL WHERE NOT deleted AND NOT cancelled
     AND reported_time IS NOT NULL AND {_DAY.format(at="reported_time")}) AS lab_reports,
  (SELECT count() FROM std_exam FINAL WHERE NOT deleted AND NOT cancelled
     AND reported_time IS NOT NULL AND {_DAY.format(at="reported_time")}) AS exams
""",  # noqa: S608 - constant column names and fragments, values are parameters
        _ON_DAY,
    ),
]

_QUERIES = [PING, *_DASHBOARD, *guarded(_DASHBOARD), WINDOW_CHECK, *_CONSOLE, *CONSOLE_PAGES]
_QUERIES += QUALITY_QUERIES  # the 质控 page's report (quality.sql)
CATALOG = Catalog([*_QUERIES, *_CHECKS])
