"""Structured logging: one JSON event per line.

Callers pass context (institution, table, topic...) as keyword fields so that
operators can filter by them; secrets must never be passed as fields.

As a safety net (not the primary fix: messages are built without secrets) every
formatted line is redacted: each value given to :func:`redact_secrets` (the CLI
registers the settings' secrets and every file of the secrets directory when it
loads the settings) and any ``scheme://user:password@`` or ``password=value`` is
replaced by ``***`` — in the message, the fields and the traceback alike.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Iterable
from typing import Any

from streamhub.secrets_mask import MASK, mask_text

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message"}


_secrets: tuple[str, ...] = ()
_secrets_lock = threading.Lock()


def redact_secrets(values: Iterable[str]) -> None:
    """Add ``values`` to the secrets every log line is scrubbed of (longest first)."""
    global _secrets
    with _secrets_lock:
        given = {v for v in values if v}
        # as json.dumps writes them into a line too (quotes, backslashes, control characters)
        given |= {json.dumps(v, ensure_ascii=False)[1:-1] for v in given}
        merged = set(_secrets) | given
        _secrets = tuple(sorted(merged, key=len, reverse=True))


def redact(text: str) -> str:
    """``text`` without any registered secret value or URL/``password=`` credential."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return mask_text(text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(self._format(record))

    def _format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                event[key] = value
        if record.exc_info:
            event["exc"] = self.formatException(record.exc_info)
        return json.dumps(event, ensure_ascii=False, default=str)


# HTTP clients that log every request with its full URL at info (the schema registry
# client's URL may carry basic-auth credentials): normal operation logs nothing of it
QUIET_LOGGERS = ("httpx", "httpx2", "httpcore", "httpcore2")


def quiet_request_loggers() -> None:
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


quiet_request_loggers()  # at import: Faust workers configure logging without configure()


def configure(level: str = "info") -> None:
    """Send structured events to stderr; stdout stays for command output."""
    quiet_request_loggers()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
