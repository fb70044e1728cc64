"""Landing: std.* and ops.* topics -> ClickHouse, batched and idempotent."""
