CREATE TABLE IF NOT EXISTS ops_quality_local ON CLUSTER province
(
    `institution_id` LowCardinality(String),
    `system`         LowCardinality(String),
    `table`          LowCardinality(String),
    `record_key`     String,
    `entity`         LowCardinality(Nullable(String)),
    `field`          LowCardinality(Nullable(String)),
    `rule`           LowCardinality(String),
    `dimension`      LowCardinality(String),
    `severity`       LowCardinality(String),
    `message`        String,
    `observed`       Nullable(String),
    `position`       Nullable(String),
    `event_ts_ms`    Int64,
    `_topic`         LowCardinality(String),
    `_partition`     UInt32,
    `_offset`        UInt64,
    `_landed_time`   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/ops_quality', '{replica}')
ORDER BY (institution_id, _topic, _partition, _offset);

CREATE TABLE IF NOT EXISTS ops_quality ON CLUSTER province
AS ops_quality_local
ENGINE = Distributed('province', 'streamhub', 'ops_quality_local', cityHash64(institution_id, _topic, _partition, _offset));

CREATE TABLE IF NOT EXISTS ops_source_counts_local ON CLUSTER province
(
    `connector`          LowCardinality(String),
    `institution_id`     LowCardinality(String),
    `system`             LowCardinality(String),
    `database`           LowCardinality(String),
    `table`              LowCardinality(String),
    `window_start_ms`    Int64,
    `window_ms`          Int32,
    `inserts`            Int64,
    `updates`            Int64,
    `deletes`            Int64,
    `snapshot_reads`     Int64,
    `row_count`          Nullable(Int64),
    `row_count_position` Nullable(String),
    `emitted_ts_ms`      Int64,
    `_topic`             LowCardinality(String),
    `_partition`         UInt32,
    `_offset`            UInt64,
    `_landed_time`       DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/ops_source_counts', '{replica}', emitted_ts_ms)
ORDER BY (institution_id, system, database, table, window_start_ms, connector);

CREATE TABLE IF NOT EXISTS ops_source_counts ON CLUSTER province
AS ops_source_counts_local
ENGINE = Distributed('province', 'streamhub', 'ops_source_counts_local', cityHash64(institution_id, system, database, table, window_start_ms, connector));

CREATE TABLE IF NOT EXISTS ops_heartbeat_local ON CLUSTER province
(
    `connector`        LowCardinality(String),
    `institution_id`   LowCardinality(String),
    `system`           LowCardinality(String),
    `engine`           LowCardinality(String),
    `state`            LowCardinality(String),
    `position`         Nullable(String),
    `lag_bytes`        Nullable(Int64),
    `lag_ms`           Nullable(Int64),
    `last_event_ts_ms` Nullable(Int64),
    `events_total`     Int64,
    `errors_total`     Int64,
    `emitted_ts_ms`    Int64,
    `_topic`           LowCardinality(String),
    `_partition`       UInt32,
    `_offset`          UInt64,
    `_landed_time`     DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/ops_heartbeat', '{replica}')
ORDER BY (institution_id, connector, emitted_ts_ms);

CREATE TABLE IF NOT EXISTS ops_heartbeat ON CLUSTER province
AS ops_heartbeat_local
ENGINE = Distributed('province', 'streamhub', 'ops_heartbeat_local', cityHash64(institution_id, connector, emitted_ts_ms));

CREATE TABLE IF NOT EXISTS ops_landed_counts_local ON CLUSTER province
(
    `institution_id`  LowCardinality(String),
    `system`          LowCardinality(String),
    `table`           LowCardinality(String),
    `entity`          LowCardinality(String),
    `window_start_ms` Int64,
    `window_ms`       Int32,
    `upserts`         Int64,
    `deletes`         Int64,
    `landed_ts_ms`    Int64,
    `_topic`          LowCardinality(String),
    `_partition`      UInt32,
    `_offset`         UInt64,
    `_landed_time`    DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/ops_landed_counts', '{replica}')
ORDER BY (institution_id, system, table, window_start_ms, _topic, _partition, _offset);

CREATE TABLE IF NOT EXISTS ops_landed_counts ON CLUSTER province
AS ops_landed_counts_local
ENGINE = Distributed('province', 'streamhub', 'ops_landed_counts_local', cityHash64(institution_id, system, table, window_start_ms, _topic, _partition, _offset));

CREATE TABLE IF NOT EXISTS ops_dead_letters_local ON CLUSTER province
(
    `stage`              LowCardinality(String),
    `reason`             String,
    `error_type`         LowCardinality(String),
    `institution_id`     LowCardinality(Nullable(String)),
    `table`              LowCardinality(Nullable(String)),
    `original_topic`     LowCardinality(Nullable(String)),
    `original_partition` Nullable(Int32),
    `original_offset`    Nullable(Int64),
    `failed_ts_ms`       Int64,
    `_topic`             LowCardinality(String),
    `_partition`         UInt32,
    `_offset`            UInt64,
    `_landed_time`       DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/ops_dead_letters', '{replica}')
ORDER BY (_topic, _partition, _offset);

CREATE TABLE IF NOT EXISTS ops_dead_letters ON CLUSTER province
AS ops_dead_letters_local
ENGINE = Distributed('province', 'streamhub', 'ops_dead_letters_local', cityHash64(_topic, _partition, _offset));

