-- ops tables, one per ops topic, column names as in avro_schemas/ops/*.avsc (times stay epoch
-- milliseconds, as on the topic). Every row keeps the Kafka position it came from (_topic,
-- _partition, _offset): tables whose events have no natural key are deduplicated on it, so
-- landing a replayed batch again leaves them unchanged.

-- ops.quality: one rule violation per event; no natural key, so the Kafka position is the key.
CREATE TABLE IF NOT EXISTS ops_quality
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
ENGINE = ReplacingMergeTree
ORDER BY (institution_id, _topic, _partition, _offset);

-- ops.source_counts: a late change re-emits its window with new totals: the latest emission
-- of (connector, table, window) wins.
CREATE TABLE IF NOT EXISTS ops_source_counts
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
ENGINE = ReplacingMergeTree(emitted_ts_ms)
ORDER BY (institution_id, system, database, table, window_start_ms, connector);

-- ops.heartbeat: a connector emits one pulse per timestamp.
CREATE TABLE IF NOT EXISTS ops_heartbeat
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
ENGINE = ReplacingMergeTree
ORDER BY (institution_id, connector, emitted_ts_ms);

-- ops.landed_counts: each event is the increment of one lander flush (sum them); the Kafka
-- position keeps a replayed event from counting twice.
CREATE TABLE IF NOT EXISTS ops_landed_counts
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
ENGINE = ReplacingMergeTree
ORDER BY (institution_id, system, table, window_start_ms, _topic, _partition, _offset);

-- dlq.*: why records were dead-lettered. original_key and original_value are NOT landed: they
-- hold personal data in clear (level 4) and stay on the access-controlled dlq topics.
CREATE TABLE IF NOT EXISTS ops_dead_letters
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
ENGINE = ReplacingMergeTree
ORDER BY (_topic, _partition, _offset);
