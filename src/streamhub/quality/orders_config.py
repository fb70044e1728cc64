"""Settings of the work orders: thresholds per rule and level, the close rule, notifications.

Read from the environment (``STREAMHUB_ORDERS_…``, nested with ``__``: e.g.
``STREAMHUB_ORDERS_SMTP__HOST``) or a JSON file (``streamhub quality orders --config``).
The SMTP password is never a setting's value in a file: it comes from the environment
variable named by ``smtp.password_env`` or from the file ``smtp.password_file``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from streamhub.quality.errors import WorkOrderError

DAY_S = 86_400


class Threshold(BaseModel):
    """A rule is breached at this level when, over the evaluation window, at least
    ``min_count`` records fail it and they are at least ``min_rate`` of the scope's records."""

    model_config = {"frozen": True, "extra": "forbid"}

    min_rate: float = Field(ge=0.0, le=1.0)
    min_count: int = Field(ge=1)
    deadline_s: int = Field(gt=0, description="Time the institution has to fix it.")

    def breached(self, count: int, records: int) -> bool:
        return count >= self.min_count and records > 0 and count / records >= self.min_rate


#: Levels, mildest first; an order takes the most severe level its breach reaches.
DEFAULT_LEVELS: dict[str, Threshold] = {
    "warning": Threshold(min_rate=0.05, min_count=5, deadline_s=7 * DAY_S),
    "critical": Threshold(min_rate=0.20, min_count=20, deadline_s=2 * DAY_S),
}


class SmtpSettings(BaseModel):
    model_config = {"frozen": True, "extra": "forbid"}

    host: str = ""  # empty: no email
    port: int = 25
    sender: str = "streamhub@localhost"
    to: tuple[str, ...] = ()
    username: str = ""
    password_env: str = "STREAMHUB_SMTP_PASSWORD"  # noqa: S105 - a variable name, not a secret
    password_file: Path | None = None
    starttls: bool = False
    timeout_s: float = 10.0

    def password(self) -> SecretStr | None:
        """From the file when set, else the environment variable; None without either."""
        if self.password_file is not None:
            try:
                return SecretStr(self.password_file.read_text(encoding="utf-8").strip())
            except OSError as exc:
                raise WorkOrderError(
                    f"cannot read the SMTP password file {self.password_file} "
                    f"({type(exc).__name__}); fix its path or permissions"
                ) from exc
        value = os.environ.get(self.password_env)
        return SecretStr(value) if value else None


class WebhookSettings(BaseModel):
    model_config = {"frozen": True, "extra": "forbid"}

    url: str = ""  # empty: no webhook
    timeout_s: float = 10.0
    attempts: int = Field(default=4, ge=1)


class OrderSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="STREAMHUB_ORDERS_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    window_s: int = Field(
        default=7 * DAY_S, gt=0, description="Evaluation window, by business time."
    )
    levels: dict[str, Threshold] = Field(default_factory=lambda: dict(DEFAULT_LEVELS))
    #: per rule, thresholds replacing the default ones of the levels named
    rules: dict[str, dict[str, Threshold]] = Field(default_factory=dict)
    #: only these institutions' data opens, closes and escalates orders (empty: all of them)
    institutions: frozenset[str] = frozenset()
    #: rules that never open an order (e.g. timeliness while history is back-filled)
    disabled_rules: frozenset[str] = frozenset()
    clean_period_s: int = Field(
        default=3 * DAY_S,
        gt=0,
        description="An order also closes when its rule stays under threshold this long.",
    )
    examples: int = Field(default=5, ge=1, le=50)
    max_offenders: int = Field(default=1000, ge=1, description="Record ids kept to verify a fix.")
    link_base: str = "http://127.0.0.1:8080/quality/orders/"
    smtp: SmtpSettings = SmtpSettings()
    webhook: WebhookSettings = WebhookSettings()

    def thresholds(self, rule: str) -> dict[str, Threshold]:
        """The levels of ``rule``, mildest first (the default levels' order)."""
        own = self.rules.get(rule, {})
        merged = {name: own.get(name, t) for name, t in self.levels.items()}
        merged |= {n: t for n, t in own.items() if n not in merged}
        return merged

    def covers(self, institution: str) -> bool:
        return not self.institutions or institution in self.institutions

    def level_of(self, rule: str, count: int, records: int) -> tuple[str, Threshold] | None:
        """The most severe level the breach reaches; None under every threshold (and for a
        disabled rule)."""
        if rule in self.disabled_rules:
            return None
        reached = [(n, t) for n, t in self.thresholds(rule).items() if t.breached(count, records)]
        return reached[-1] if reached else None

    def under_threshold(self, rule: str, count: int, records: int) -> bool:
        """Under the mildest level's threshold: what a clean period needs."""
        return self.level_of(rule, count, records) is None


def load_order_settings(path: Path | None = None) -> OrderSettings:
    """From the environment, or a JSON file overriding it."""
    try:
        if path is None:
            return OrderSettings()
        return OrderSettings(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError, ValidationError) as exc:
        where = f"the work order settings file {path}" if path else "STREAMHUB_ORDERS_* settings"
        raise WorkOrderError(f"{where}: {exc}") from exc
