"""Institution names and districts for the pages: ids alone mean nothing to an official.

Names come from the connector files (``institution_name``); the district from the
administrative-division code inside the unified social credit code (characters 3-8, GB
32100) looked up in the packaged region catalogue. Anything not found shows as 未知.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from streamhub.capture.connector import load_connectors
from streamhub.capture.errors import ConnectorConfigError
from streamhub.codes.catalogue import regions
from streamhub.config import Settings
from streamhub.core.clock import SYSTEM_CLOCK, Clock
from streamhub.log import get_logger

log = get_logger(__name__)

UNKNOWN = "未知"
RELOAD_S = 60.0  # connector files change rarely; re-read them at most once a minute


@dataclass(frozen=True)
class Institution:
    institution_id: str
    name: str
    district: str
    region_code: str | None


def region_code_of(institution_id: str) -> str | None:
    """The 6-digit administrative division of a credit code, None when it has none."""
    code = institution_id[2:8]
    return code if len(code) == 6 and code.isdigit() else None


def district_names() -> dict[str, str]:
    """region code → district label (思明区 …)."""
    return {r.code: r.district for r in regions()}


class Directory:
    """institution id → :class:`Institution`, names from a loader re-read now and then."""

    def __init__(
        self, load_names: Callable[[], dict[str, str]], clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self._load_names = load_names
        self._clock = clock
        self._lock = threading.Lock()
        self._names: dict[str, str] = {}
        self._loaded_at: float | None = None
        self._districts = district_names()

    @classmethod
    def from_settings(cls, settings: Settings) -> Directory:
        return cls(lambda: connector_names(settings))

    def known_districts(self) -> set[str]:
        return {*self._districts.values(), UNKNOWN}

    def get(self, institution_id: str) -> Institution:
        code = region_code_of(institution_id)
        district = self._districts.get(code, UNKNOWN) if code else UNKNOWN
        name = self._current_names().get(institution_id, UNKNOWN)
        return Institution(institution_id, name, district, code if district != UNKNOWN else None)

    def districts(self) -> list[tuple[str, str]]:
        """(region code, district label) of the region catalogue, by code."""
        return sorted(self._districts.items())

    def named_like(self, text: str) -> list[str]:
        """Institutions whose name contains ``text`` (case-insensitively), sorted."""
        needle = text.casefold()
        if not needle:
            return []
        return sorted(i for i, name in self._current_names().items() if needle in name.casefold())

    def known_ids(self) -> list[str]:
        """Institutions of the connector files, sorted."""
        return sorted(self._current_names())

    def name(self, institution_id: str) -> str:
        return self.get(institution_id).name

    def _current_names(self) -> dict[str, str]:
        with self._lock:
            now = self._clock.monotonic()
            if self._loaded_at is None or now - self._loaded_at >= RELOAD_S:
                self._names = self._load_names()
                self._loaded_at = now
            return self._names


def connector_names(settings: Settings) -> dict[str, str]:
    """institution id → name from the connector files; a bad file is skipped with an error
    logged, so one typo does not take every institution's name (or the dashboard) with it."""
    directory = settings.connectors_path
    if not directory.is_dir():
        return {}

    def skipped(exc: ConnectorConfigError) -> None:
        log.error(
            "connector file skipped: invalid",
            extra={"directory": str(directory), "error": str(exc)},
        )

    try:
        connectors = load_connectors(directory, on_error=skipped)
    except OSError as exc:
        log.warning(
            "institution names unavailable: connector files unreadable",
            extra={"directory": str(directory), "error": str(exc)},
        )
        return {}
    return {c.institution_id: c.institution_name for c in connectors if c.institution_name}
