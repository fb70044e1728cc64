CREATE TABLE IF NOT EXISTS inpatient_state_local ON CLUSTER province
(
    `institution_id`      LowCardinality(String),
    `record_id`           String,
    `source_position_seq` UInt64,
    `gone`                Bool
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/inpatient_state', '{replica}', source_position_seq, gone)
ORDER BY (institution_id, record_id);

CREATE TABLE IF NOT EXISTS inpatient_state ON CLUSTER province
AS inpatient_state_local
ENGINE = Distributed('province', 'streamhub', 'inpatient_state_local', cityHash64(institution_id, record_id));

CREATE TABLE IF NOT EXISTS encounter_kind_local ON CLUSTER province
(
    `institution_id`      LowCardinality(String),
    `encounter_id`        String,
    `record_id`           String,
    `encounter_type`      LowCardinality(Nullable(String)),
    `source_position_seq` UInt64,
    `deleted`             Bool
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/encounter_kind', '{replica}', source_position_seq, deleted)
ORDER BY (institution_id, encounter_id, record_id);

CREATE TABLE IF NOT EXISTS encounter_kind ON CLUSTER province
AS encounter_kind_local
ENGINE = Distributed('province', 'streamhub', 'encounter_kind_local', cityHash64(institution_id, encounter_id, record_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS inpatient_state_mv ON CLUSTER province TO inpatient_state AS
SELECT institution_id, record_id, newest_seq AS source_position_seq, newest_gone AS gone
FROM (
SELECT institution_id, record_id, max(source_position_seq) AS newest_seq,
       NOT argMax(NOT deleted AND coalesce(encounter_type, '') = 'inpatient' AND NOT cancelled
                  AND discharge_time IS NULL
                  AND coalesce(status, '') NOT IN ('discharged', 'withdrawn'),
                  source_position_seq) AS newest_gone
FROM std_encounter
GROUP BY institution_id, record_id
HAVING countIf(coalesce(encounter_type, 'inpatient') = 'inpatient') > 0
    OR (institution_id, record_id) IN (
        SELECT institution_id, record_id FROM inpatient_state WHERE NOT gone)
);

CREATE MATERIALIZED VIEW IF NOT EXISTS encounter_kind_mv ON CLUSTER province TO encounter_kind AS
SELECT institution_id, assumeNotNull(encounter_id) AS encounter_id, record_id, encounter_type,
       source_position_seq, deleted
FROM std_encounter
WHERE encounter_id IS NOT NULL;

INSERT INTO inpatient_state
SELECT institution_id, record_id, max(source_position_seq) AS newest_seq,
       NOT argMax(NOT deleted AND coalesce(encounter_type, '') = 'inpatient' AND NOT cancelled
                  AND discharge_time IS NULL
                  AND coalesce(status, '') NOT IN ('discharged', 'withdrawn'),
                  source_position_seq) AS newest_gone
FROM std_encounter
WHERE (institution_id, record_id) IN (
    SELECT institution_id, record_id FROM std_encounter
    WHERE coalesce(encounter_type, 'inpatient') = 'inpatient')
GROUP BY institution_id, record_id;

INSERT INTO encounter_kind
SELECT institution_id, assumeNotNull(encounter_id) AS encounter_id, record_id, encounter_type,
       source_position_seq, deleted
FROM std_encounter
WHERE encounter_id IS NOT NULL;

