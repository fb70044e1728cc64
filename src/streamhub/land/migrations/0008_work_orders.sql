-- Work orders (运维工单, issue 22): one row per version of an order; the highest `version` is
-- the order as it stands (FINAL). Written by `streamhub quality orders` and the web app's
-- acknowledge / report-fix actions, never by the lander. `examples` and `offenders` are
-- pseudonymized record ids (record_id), never source values.
CREATE TABLE IF NOT EXISTS quality_work_orders
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
ENGINE = ReplacingMergeTree(version)
ORDER BY order_id;

-- Every state change of a work order: who, what, when, from → to. A row written twice (a
-- retried insert) replaces itself.
CREATE TABLE IF NOT EXISTS quality_work_order_audit
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
ENGINE = ReplacingMergeTree
ORDER BY (order_id, version);
