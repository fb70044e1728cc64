"""The root of streamhub's exceptions.

Every package raises subclasses of :class:`StreamhubError` (defined in its own
``errors.py``) with a message an operator can act on: what failed, where, and
what to do next. The CLI turns them into one clear line and a non-zero exit.
"""


class StreamhubError(Exception):
    """Base of every error streamhub raises on purpose."""

    exit_code = 1


class ConfigError(StreamhubError):
    """The configuration is invalid or incomplete; nothing was started."""

    exit_code = 2
