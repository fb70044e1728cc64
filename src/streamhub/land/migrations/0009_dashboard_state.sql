-- The dashboard's two whole-history parts kept in small state tables (issue 18,
-- docs/decisions/dashboard-volume.md): inpatients on hand, and each encounter's type for the
-- fee lines. Both are ReplacingMergeTree tables keyed by the entity key with the std tables'
-- version column (source_position_seq), filled by materialized views on std_encounter's
-- inserts: a version landed twice (at-least-once) writes the same row twice, which collapses;
-- an older version landed after a newer one loses to it. Never OPTIMIZE ... FINAL CLEANUP
-- them: the rows that say "gone" / "deleted" are what keeps an older version, landed again,
-- from coming back.

-- One row per version that can matter to 在院人数: gone = the version is not an inpatient
-- on hand (discharged, cancelled, withdrawn, deleted, or no longer inpatient). FINAL drops
-- the gone records, so it reads the inpatient records only, not every encounter.
CREATE TABLE IF NOT EXISTS inpatient_state
(
    `institution_id`      LowCardinality(String),
    `record_id`           String,
    `source_position_seq` UInt64,
    `gone`                Bool
)
ENGINE = ReplacingMergeTree(source_position_seq, gone)
ORDER BY (institution_id, record_id);

-- Each encounter record's type by (institution_id, encounter_id): a record keeps its encounter
-- id for life (it is the source key, present in a key-only delete), so the sort key is fixed
-- for every version and a lookup by encounter id reads only the index granules of those ids.
CREATE TABLE IF NOT EXISTS encounter_kind
(
    `institution_id`      LowCardinality(String),
    `encounter_id`        String,
    `record_id`           String,
    `encounter_type`      LowCardinality(Nullable(String)),
    `source_position_seq` UInt64,
    `deleted`             Bool
)
ENGINE = ReplacingMergeTree(source_position_seq, deleted)
ORDER BY (institution_id, encounter_id, record_id);

-- Per inserted block, per record: its newest version in the block, written when any version
-- of the block is (or may be: a key-only delete has no type) inpatient, or when the record
-- is on hand in the state already (an admission turned into another type). A record whose
-- versions were never inpatient is never written: it cannot be on hand.
CREATE MATERIALIZED VIEW IF NOT EXISTS inpatient_state_mv TO inpatient_state AS
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

CREATE MATERIALIZED VIEW IF NOT EXISTS encounter_kind_mv TO encounter_kind AS
SELECT institution_id, assumeNotNull(encounter_id) AS encounter_id, record_id, encounter_type,
       source_position_seq, deleted
FROM std_encounter
WHERE encounter_id IS NOT NULL;

-- Backfill from the versions landed before the views existed (run with the lander stopped,
-- like 0007; a version landed meanwhile is written by both, which collapses). Running it
-- again writes the same rows again.
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
