CREATE TABLE IF NOT EXISTS quality_work_orders_local ON CLUSTER province
(
    `order_id`        String,
    `institution_id`  LowCardinality(String),
    `rule`            LowCardinality(String),
    `system`          LowCardinality(String),
    `table`           LowCardinality(String),
    `entity`          LowCardinality(String),
    `level`           LowCardinality(String),
    `state`           LowCardinality(String),
    `opened_at_ms`    Int64,
    `deadline_ms`     Int64,
    `breach_count`    Int64,
    `breach_rate`     Float64,
    `examples`        Array(String),
    `offenders`       Array(String),
    `evidence`        String,
    `clean_since_ms`  Int64,
    `notified_state`  LowCardinality(String),
    `updated_at_ms`   Int64,
    `version`         UInt64
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/quality_work_orders', '{replica}', version)
ORDER BY order_id;

CREATE TABLE IF NOT EXISTS quality_work_orders ON CLUSTER province
AS quality_work_orders_local
ENGINE = Distributed('province', 'streamhub', 'quality_work_orders_local', cityHash64(order_id));

CREATE TABLE IF NOT EXISTS quality_work_order_audit_local ON CLUSTER province
(
    `order_id`        String,
    `version`         UInt64,
    `at_ms`           Int64,
    `actor`           String,
    `action`          LowCardinality(String),
    `from_state`      LowCardinality(String),
    `to_state`        LowCardinality(String),
    `note`            String
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/quality_work_order_audit', '{replica}')
ORDER BY (order_id, version);

CREATE TABLE IF NOT EXISTS quality_work_order_audit ON CLUSTER province
AS quality_work_order_audit_local
ENGINE = Distributed('province', 'streamhub', 'quality_work_order_audit_local', cityHash64(order_id, version));

