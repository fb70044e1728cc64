"""Snapshot watermarks on PostgreSQL: logical decoding messages under one prefix.

The snapshot reader emits a low and a high message around each chunk
(``pg_logical_emit_message``, DBLog-style) with JSON content ``{"connector", "kind",
"chunk"}``; the log reader recognises them in the pgoutput stream and yields ``Watermark``
events.
"""

from __future__ import annotations

WATERMARK_PREFIX = "streamhub.watermark"
