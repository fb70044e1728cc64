CREATE OR REPLACE VIEW v_encounter_current ON CLUSTER province AS
SELECT institution_id, record_id, encounter_id, encounter_type, registered_time, visit_time,
       discharge_time, status, cancelled, source_table
FROM std_encounter FINAL;

CREATE OR REPLACE VIEW v_encounter_events ON CLUSTER province AS
SELECT institution_id, record_id, encounter_id, ev.1 AS event, assumeNotNull(ev.2) AS at
FROM v_encounter_current
ARRAY JOIN arrayFilter(x -> isNotNull(x.2), [
    ('visit', if(encounter_type IN ('outpatient', 'emergency'),
                 coalesce(visit_time, registered_time), NULL)),
    ('admission', if(encounter_type = 'inpatient', registered_time, NULL)),
    ('discharge', if(encounter_type = 'inpatient', discharge_time, NULL))
]) AS ev
WHERE NOT cancelled AND coalesce(status, '') != 'withdrawn';

CREATE OR REPLACE VIEW v_encounters_by_minute ON CLUSTER province AS
SELECT institution_id,
       toStartOfMinute(toTimeZone(at, 'Asia/Shanghai')) AS minute,
       countIf(event = 'visit') AS visits,
       countIf(event = 'admission') AS admissions,
       countIf(event = 'discharge') AS discharges
FROM v_encounter_events
GROUP BY institution_id, minute;

CREATE OR REPLACE VIEW v_encounters_by_day ON CLUSTER province AS
SELECT institution_id,
       toDate(at, 'Asia/Shanghai') AS day,
       countIf(event = 'visit') AS visits,
       countIf(event = 'admission') AS admissions,
       countIf(event = 'discharge') AS discharges
FROM v_encounter_events
GROUP BY institution_id, day;

CREATE OR REPLACE VIEW v_inpatients_on_hand ON CLUSTER province AS
SELECT institution_id, count() AS inpatients
FROM v_encounter_current
WHERE encounter_type = 'inpatient' AND NOT cancelled AND discharge_time IS NULL
  AND coalesce(status, '') NOT IN ('discharged', 'withdrawn')
GROUP BY institution_id;

CREATE OR REPLACE VIEW v_charge_current ON CLUSTER province AS
SELECT institution_id, record_id, charge_kind, encounter_id, is_drug, amount, charged_time,
       cancelled
FROM std_charge FINAL;

CREATE OR REPLACE VIEW v_fees_by_day ON CLUSTER province AS
SELECT c.institution_id AS institution_id,
       toDate(c.charged_time, 'Asia/Shanghai') AS day,
       sum(coalesce(c.amount, 0)) AS fee_revenue,
       sumIf(coalesce(c.amount, 0), coalesce(c.is_drug, false)) AS drug_revenue,
       sumIf(coalesce(c.amount, 0), e.encounter_type IN ('outpatient', 'emergency'))
           AS outpatient_revenue,
       toFloat64(drug_revenue) / nullIf(toFloat64(fee_revenue), 0) AS drug_share
FROM v_charge_current AS c
LEFT JOIN
(
    SELECT institution_id, encounter_id, any(encounter_type) AS encounter_type
    FROM v_encounter_current
    WHERE encounter_id IS NOT NULL
    GROUP BY institution_id, encounter_id
) AS e ON c.institution_id = e.institution_id AND c.encounter_id = e.encounter_id
WHERE c.charge_kind = 'fee' AND NOT c.cancelled AND c.charged_time IS NOT NULL
GROUP BY institution_id, day;

CREATE OR REPLACE VIEW v_outpatient_cost_by_day ON CLUSTER province AS
SELECT institution_id, day,
       f.outpatient_revenue AS outpatient_revenue,
       v.visits AS visits,
       f.outpatient_revenue / nullIf(v.visits, 0) AS avg_outpatient_cost
FROM v_fees_by_day AS f
FULL OUTER JOIN v_encounters_by_day AS v USING (institution_id, day);

CREATE OR REPLACE VIEW v_lab_exam_by_day ON CLUSTER province AS
SELECT institution_id, day, sum(lab_reports) AS lab_reports, sum(exams) AS exams
FROM
(
    SELECT institution_id, toDate(assumeNotNull(reported_time), 'Asia/Shanghai') AS day,
           1 AS lab_reports, 0 AS exams
    FROM std_lab_report FINAL
    WHERE NOT cancelled AND reported_time IS NOT NULL
    UNION ALL
    SELECT institution_id, toDate(assumeNotNull(reported_time), 'Asia/Shanghai') AS day,
           0 AS lab_reports, 1 AS exams
    FROM std_exam FINAL
    WHERE NOT cancelled AND reported_time IS NOT NULL
)
GROUP BY institution_id, day;

CREATE OR REPLACE VIEW v_dashboard_today ON CLUSTER province AS
SELECT institution_id,
       sum(visits) AS visits,
       sum(admissions) AS admissions,
       sum(discharges) AS discharges,
       sum(inpatients) AS inpatients_on_hand,
       sum(outpatient_revenue) AS outpatient_revenue,
       outpatient_revenue / nullIf(visits, 0) AS avg_outpatient_cost,
       toFloat64(sum(drug_revenue)) / nullIf(toFloat64(sum(fee_revenue)), 0) AS drug_share,
       sum(lab_reports) AS lab_reports,
       sum(exams) AS exams
FROM
(
    SELECT institution_id, visits, admissions, discharges, 0 AS inpatients,
           toDecimal128(0, 2) AS outpatient_revenue, toDecimal128(0, 2) AS drug_revenue,
           toDecimal128(0, 2) AS fee_revenue, 0 AS lab_reports, 0 AS exams
    FROM v_encounters_by_day WHERE day = toDate(now(), 'Asia/Shanghai')
    UNION ALL
    SELECT institution_id, 0, 0, 0, inpatients, toDecimal128(0, 2), toDecimal128(0, 2),
           toDecimal128(0, 2), 0, 0
    FROM v_inpatients_on_hand
    UNION ALL
    SELECT institution_id, 0, 0, 0, 0, toDecimal128(outpatient_revenue, 2),
           toDecimal128(drug_revenue, 2), toDecimal128(fee_revenue, 2), 0, 0
    FROM v_fees_by_day WHERE day = toDate(now(), 'Asia/Shanghai')
    UNION ALL
    SELECT institution_id, 0, 0, 0, 0, toDecimal128(0, 2), toDecimal128(0, 2),
           toDecimal128(0, 2), lab_reports, exams
    FROM v_lab_exam_by_day WHERE day = toDate(now(), 'Asia/Shanghai')
)
GROUP BY institution_id;

