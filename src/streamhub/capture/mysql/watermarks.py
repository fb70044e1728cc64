"""Snapshot watermarks on MariaDB/MySQL: rows of ``streamhub.watermarks``.

The snapshot reader inserts a low and a high row around each chunk (DBLog-style); the binlog
translator recognises them in the log and yields ``Watermark`` events. Each row id is
``<chunk_id>/<8 hex>``, so every watermark is a fresh INSERT and retries never collide.
"""

from __future__ import annotations

WATERMARK_SCHEMA = "streamhub"
WATERMARK_TABLE = "watermarks"
WATERMARK_DDL = (
    "CREATE TABLE IF NOT EXISTS streamhub.watermarks (id VARCHAR(64) PRIMARY KEY, "
    "connector VARCHAR(64), kind VARCHAR(8), created_at DATETIME(3)) DEFAULT CHARSET=utf8mb4"
)
ID_SUFFIX = 9  # "/" + 8 hex


def watermark_chunk_id(row_id: str) -> str:
    """The chunk id inside a ``streamhub.watermarks`` id (``<chunk_id>/<8 hex>``)."""
    return row_id[:-ID_SUFFIX] if len(row_id) > ID_SUFFIX else row_id
