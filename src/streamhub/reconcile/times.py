"""Operator time input and output: durations (``30s``, ``30m``, ``6h``, ``2d``) and minutes
in Asia/Shanghai, the time the region reads (``2026-11-25T08:01``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from streamhub.reconcile.errors import TimeFormatError
from streamhub.reconcile.totals import SHANGHAI

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration_ms(text: str) -> int:
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise TimeFormatError(f"{text!r} is not a duration like 20s, 30m, 6h or 2d")
    return int(float(match.group(1)) * _UNIT_S[match.group(2)] * 1000)


def parse_local_ms(text: str) -> int:
    """An ISO date-time; without an offset it is Asia/Shanghai time (as `show` prints)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise TimeFormatError(
            f"{text!r} is not a time like 2026-11-25T08:01 (Asia/Shanghai) or with an offset"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    return int(moment.timestamp() * 1000)


def parse_since_ms(text: str, now_ms: int) -> int:
    """``30m`` (that long ago) or a date-time (see :func:`parse_local_ms`)."""
    if _DURATION.fullmatch(text.strip()):
        return now_ms - parse_duration_ms(text)
    return parse_local_ms(text)


def local_minute(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).astimezone(SHANGHAI)
    return moment.strftime("%Y-%m-%dT%H:%M")


def local_time(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).astimezone(SHANGHAI)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}"
