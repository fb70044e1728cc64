ALTER TABLE ops_landed_counts_local ON CLUSTER province ADD COLUMN IF NOT EXISTS `database` LowCardinality(Nullable(String)) AFTER landed_ts_ms;

ALTER TABLE ops_landed_counts ON CLUSTER province ADD COLUMN IF NOT EXISTS `database` LowCardinality(Nullable(String)) AFTER landed_ts_ms;

ALTER TABLE ops_landed_counts_local ON CLUSTER province ADD COLUMN IF NOT EXISTS `repair_id` Nullable(String) AFTER database;

ALTER TABLE ops_landed_counts ON CLUSTER province ADD COLUMN IF NOT EXISTS `repair_id` Nullable(String) AFTER database;

ALTER TABLE ops_dead_letters_local ON CLUSTER province ADD COLUMN IF NOT EXISTS `system` LowCardinality(Nullable(String)) AFTER failed_ts_ms;

ALTER TABLE ops_dead_letters ON CLUSTER province ADD COLUMN IF NOT EXISTS `system` LowCardinality(Nullable(String)) AFTER failed_ts_ms;

ALTER TABLE ops_dead_letters_local ON CLUSTER province ADD COLUMN IF NOT EXISTS `database` LowCardinality(Nullable(String)) AFTER system;

ALTER TABLE ops_dead_letters ON CLUSTER province ADD COLUMN IF NOT EXISTS `database` LowCardinality(Nullable(String)) AFTER system;

ALTER TABLE ops_dead_letters_local ON CLUSTER province ADD COLUMN IF NOT EXISTS `commit_ts_ms` Nullable(Int64) AFTER database;

ALTER TABLE ops_dead_letters ON CLUSTER province ADD COLUMN IF NOT EXISTS `commit_ts_ms` Nullable(Int64) AFTER database;

ALTER TABLE ops_dead_letters_local ON CLUSTER province ADD COLUMN IF NOT EXISTS `record_id` Nullable(String) AFTER commit_ts_ms;

ALTER TABLE ops_dead_letters ON CLUSTER province ADD COLUMN IF NOT EXISTS `record_id` Nullable(String) AFTER commit_ts_ms;

ALTER TABLE ops_dead_letters_local ON CLUSTER province ADD COLUMN IF NOT EXISTS `version` Nullable(Int64) AFTER record_id;

ALTER TABLE ops_dead_letters ON CLUSTER province ADD COLUMN IF NOT EXISTS `version` Nullable(Int64) AFTER record_id;

CREATE TABLE IF NOT EXISTS ops_reconciliation_local ON CLUSTER province
(
    `institution_id`  LowCardinality(String),
    `system`          LowCardinality(String),
    `table`           LowCardinality(String),
    `window_start_ms` Int64,
    `window_end_ms`   Int64,
    `source_changes`  Int64,
    `standardized`    Int64,
    `dead_lettered`   Int64,
    `landed`          Int64,
    `status`          LowCardinality(String),
    `difference`      Int64,
    `detail`          Nullable(String),
    `checked_ts_ms`   Int64,
    `database`        LowCardinality(Nullable(String)),
    `duplicates`      Int64,
    `revision`        Int64,
    `repaired`        Int64,
    `_topic`          LowCardinality(String),
    `_partition`      UInt32,
    `_offset`         UInt64,
    `_landed_time`    DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/ops_reconciliation', '{replica}', revision)
ORDER BY (institution_id, system, ifNull(database, ''), table, window_start_ms);

CREATE TABLE IF NOT EXISTS ops_reconciliation ON CLUSTER province
AS ops_reconciliation_local
ENGINE = Distributed('province', 'streamhub', 'ops_reconciliation_local', cityHash64(institution_id, system, ifNull(database, ''), table, window_start_ms));

CREATE TABLE IF NOT EXISTS ops_anomaly_local ON CLUSTER province
(
    `anomaly_id`      String,
    `institution_id`  LowCardinality(String),
    `system`          LowCardinality(String),
    `table`           LowCardinality(Nullable(String)),
    `metric`          LowCardinality(String),
    `kind`            LowCardinality(String),
    `observed`        Float64,
    `expected`        Float64,
    `lower`           Float64,
    `upper`           Float64,
    `score`           Float64,
    `window_start_ms` Int64,
    `detected_ts_ms`  Int64,
    `connector`       LowCardinality(Nullable(String)),
    `severity`        LowCardinality(Nullable(String)),
    `start_ms`        Nullable(Int64),
    `end_ms`          Nullable(Int64),
    `recovered_kind`  LowCardinality(Nullable(String)),
    `suppressed`      Bool,
    `suppression`     Nullable(String),
    `detail`          Nullable(String),
    `_topic`          LowCardinality(String),
    `_partition`      UInt32,
    `_offset`         UInt64,
    `_landed_time`    DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/ops_anomaly', '{replica}')
ORDER BY (institution_id, anomaly_id, detected_ts_ms, kind);

CREATE TABLE IF NOT EXISTS ops_anomaly ON CLUSTER province
AS ops_anomaly_local
ENGINE = Distributed('province', 'streamhub', 'ops_anomaly_local', cityHash64(institution_id, anomaly_id, detected_ts_ms, kind));

CREATE OR REPLACE VIEW v_reconciliation_current ON CLUSTER province AS
SELECT institution_id, system, database, table, window_start_ms, window_end_ms,
       source_changes, standardized, dead_lettered, landed, status, difference, detail,
       checked_ts_ms, duplicates, revision, repaired
FROM ops_reconciliation FINAL;

CREATE OR REPLACE VIEW v_reconciliation_daily ON CLUSTER province AS
SELECT institution_id,
       toDate(fromUnixTimestamp64Milli(window_start_ms, 'Asia/Shanghai')) AS day,
       count() AS windows,
       countIf(status IN ('MATCH', 'LATE')) AS matched_windows,
       countIf(status = 'MISSING') AS missing_windows,
       countIf(status = 'EXCESS') AS excess_windows,
       sum(source_changes) AS source_changes,
       sum(landed) AS landed,
       sum(dead_lettered) AS rejected,
       sum(repaired) AS repaired,
       sum(difference) AS difference
FROM v_reconciliation_current
GROUP BY institution_id, day;

CREATE OR REPLACE VIEW v_anomaly_current ON CLUSTER province AS
SELECT anomaly_id,
       any(e_institution) AS institution_id,
       any(e_system) AS system,
       argMax(e_table, e_at) AS table,
       argMax(e_connector, e_at) AS connector,
       argMaxIf(e_kind, e_at, e_kind != 'RECOVERED') AS kind,
       argMax(e_kind, e_at) = 'RECOVERED' AS recovered,
       argMax(e_severity, e_at) AS severity,
       min(e_start) AS start_ms,
       max(e_end) AS end_ms,
       argMax(e_suppressed, e_at) AS suppressed,
       argMax(e_detail, e_at) AS detail,
       max(e_at) AS last_event_ts_ms
FROM
(
    SELECT anomaly_id, institution_id AS e_institution, system AS e_system, `table` AS e_table,
           connector AS e_connector, kind AS e_kind, severity AS e_severity,
           coalesce(start_ms, window_start_ms) AS e_start, end_ms AS e_end,
           suppressed AS e_suppressed, detail AS e_detail, detected_ts_ms AS e_at
    FROM ops_anomaly FINAL
)
GROUP BY anomaly_id;

