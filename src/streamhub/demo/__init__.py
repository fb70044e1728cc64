"""The main job: simulated institutions -> capture -> Kafka -> standardize -> ClickHouse,
with a live per-institution summary."""
