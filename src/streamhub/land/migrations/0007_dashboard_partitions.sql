-- Dashboards at volume (issue 18, docs/decisions/dashboard-volume.md). The four tables the
-- dashboard reads are rebuilt partitioned by the source commit day: PARTITION BY
-- toYYYYMMDD(commit_time), ORDER BY unchanged (institution_id, record_id), engine unchanged.
-- The versions of one record may now sit in different partitions (a discharge days after the
-- admission): background merges never collapse them, and FINAL without a filter still merges
-- across partitions (do_not_merge_across_partitions_select_final stays 0), so every 0003 view
-- keeps its meaning. The dashboard's named queries read "FINAL over the versions committed
-- since the window start" (PREWHERE commit_time >= since, applied before the merge): the
-- latest version of a record is its latest commit, so it is in the window whenever any of its
-- versions is, and a version cannot carry an event later than its commit plus the margin
-- (dashboard.recent.check counts the ones that do; the web app falls back to the 0003 views).
-- Minmax indexes on the event times keep that check cheap.
-- ClickHouse cannot change a table's PARTITION BY in place: each table is copied aside,
-- re-created with the new key and copied back. Run it with the lander stopped; it needs the
-- table's size again in free disk while it runs. Every statement can run again: a run cut
-- short is finished by the next one (copies of a version collapse in a ReplacingMergeTree).

-- std_encounter
CREATE TABLE IF NOT EXISTS std_encounter_0006 AS std_encounter;
INSERT INTO std_encounter_0006 SELECT * FROM std_encounter;
CREATE OR REPLACE TABLE std_encounter AS std_encounter_0006
ENGINE = ReplacingMergeTree(source_position_seq, deleted)
PARTITION BY toYYYYMMDD(commit_time)
ORDER BY (institution_id, record_id);
ALTER TABLE std_encounter ADD INDEX IF NOT EXISTS commit_time_minmax commit_time TYPE minmax GRANULARITY 1;
ALTER TABLE std_encounter ADD INDEX IF NOT EXISTS registered_time_minmax registered_time TYPE minmax GRANULARITY 1;
ALTER TABLE std_encounter ADD INDEX IF NOT EXISTS visit_time_minmax visit_time TYPE minmax GRANULARITY 1;
ALTER TABLE std_encounter ADD INDEX IF NOT EXISTS discharge_time_minmax discharge_time TYPE minmax GRANULARITY 1;
INSERT INTO std_encounter SELECT * FROM std_encounter_0006 SETTINGS max_partitions_per_insert_block = 0;
DROP TABLE IF EXISTS std_encounter_0006;

-- std_charge
CREATE TABLE IF NOT EXISTS std_charge_0006 AS std_charge;
INSERT INTO std_charge_0006 SELECT * FROM std_charge;
CREATE OR REPLACE TABLE std_charge AS std_charge_0006
ENGINE = ReplacingMergeTree(source_position_seq, deleted)
PARTITION BY toYYYYMMDD(commit_time)
ORDER BY (institution_id, record_id);
ALTER TABLE std_charge ADD INDEX IF NOT EXISTS commit_time_minmax commit_time TYPE minmax GRANULARITY 1;
ALTER TABLE std_charge ADD INDEX IF NOT EXISTS charged_time_minmax charged_time TYPE minmax GRANULARITY 1;
INSERT INTO std_charge SELECT * FROM std_charge_0006 SETTINGS max_partitions_per_insert_block = 0;
DROP TABLE IF EXISTS std_charge_0006;

-- std_lab_report
CREATE TABLE IF NOT EXISTS std_lab_report_0006 AS std_lab_report;
INSERT INTO std_lab_report_0006 SELECT * FROM std_lab_report;
CREATE OR REPLACE TABLE std_lab_report AS std_lab_report_0006
ENGINE = ReplacingMergeTree(source_position_seq, deleted)
PARTITION BY toYYYYMMDD(commit_time)
ORDER BY (institution_id, record_id);
ALTER TABLE std_lab_report ADD INDEX IF NOT EXISTS commit_time_minmax commit_time TYPE minmax GRANULARITY 1;
ALTER TABLE std_lab_report ADD INDEX IF NOT EXISTS reported_time_minmax reported_time TYPE minmax GRANULARITY 1;
INSERT INTO std_lab_report SELECT * FROM std_lab_report_0006 SETTINGS max_partitions_per_insert_block = 0;
DROP TABLE IF EXISTS std_lab_report_0006;

-- std_exam
CREATE TABLE IF NOT EXISTS std_exam_0006 AS std_exam;
INSERT INTO std_exam_0006 SELECT * FROM std_exam;
CREATE OR REPLACE TABLE std_exam AS std_exam_0006
ENGINE = ReplacingMergeTree(source_position_seq, deleted)
PARTITION BY toYYYYMMDD(commit_time)
ORDER BY (institution_id, record_id);
ALTER TABLE std_exam ADD INDEX IF NOT EXISTS commit_time_minmax commit_time TYPE minmax GRANULARITY 1;
ALTER TABLE std_exam ADD INDEX IF NOT EXISTS reported_time_minmax reported_time TYPE minmax GRANULARITY 1;
INSERT INTO std_exam SELECT * FROM std_exam_0006 SETTINGS max_partitions_per_insert_block = 0;
DROP TABLE IF EXISTS std_exam_0006;
