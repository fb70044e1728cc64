"""The console keeps one link-health reader for the app's life and refreshes it, one
thread at a time, instead of reading the whole horizon on every cache miss."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from streamhub.config import load_settings
from streamhub.core.clock import ManualClock
from streamhub.health.evaluate import evaluate
from streamhub.health.model import Connector, Observation
from streamhub.health.refresh import HealthReader
from streamhub.health.summary import worst_first
from streamhub.health.thresholds import Thresholds
from streamhub.query import LanderQueries
from streamhub.web import console
from streamhub.web.app import create_app
from streamhub.web.institutions import Directory
from tests.unit.health.builders import INST, NOW, beat, observation


class Recording(HealthReader):
    """A reader whose refreshes are recorded (the observation is built by hand)."""

    made: ClassVar[list[Recording]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[int | None] = []
        self.closed = 0
        self.active = 0
        self.most_active = 0
        self.pause_s = 0.0
        Recording.made.append(self)

    def refresh(self, now_ms: int | None = None) -> Observation:
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        time.sleep(self.pause_s)
        self.calls.append(now_ms)
        self.active -= 1
        return observation(now_ms=now_ms)

    def close(self) -> None:
        self.closed += 1


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    Recording.made = []
    monkeypatch.setattr(console, "HealthReader", Recording)
    settings = load_settings(data_dir=tmp_path, connectors_dir=tmp_path / "connectors")
    unused = LanderQueries("http://127.0.0.1:9", lambda: "unused")  # health reads no query
    clock = ManualClock(NOW / 1000)
    return create_app(settings, unused, clock=clock, directory=Directory(dict, clock))


def test_one_reader_is_kept_and_refreshed_at_the_app_time(app: FastAPI) -> None:
    ctx = app.state.web
    with TestClient(app):
        first = console.health_document(ctx)
        ctx.clock.advance(5)
        console.health_document(ctx)
        [reader] = Recording.made  # one reader: the horizon is read once, not per check
        assert reader.calls == [NOW, NOW + 5_000]
        assert not reader.one_shot  # it goes on from where it stopped
        assert [r["institution_id"] for r in first["institutions"]] == [INST]
        assert reader.closed == 0
    assert reader.closed == 1  # the app's shutdown closes its consumer


def test_refreshes_of_the_kept_reader_never_overlap(app: FastAPI) -> None:
    ctx = app.state.web
    console.health_document(ctx)
    [reader] = Recording.made
    reader.pause_s = 0.05
    threads = [threading.Thread(target=console.health_document, args=(ctx,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(reader.calls) == 5 and reader.most_active == 1


def test_a_health_source_replaces_the_reader_and_a_reader_the_source(app: FastAPI) -> None:
    ctx = app.state.web
    console.use_health_source(ctx, lambda: observation(now_ms=NOW))
    assert console.health_document(ctx)["error"] is None
    assert Recording.made == []  # the test hook's observation, no reader made
    given = Recording(ctx.settings, Thresholds())
    console.use_health_reader(ctx, given)
    console.health_document(ctx)
    assert given.calls == [NOW] and len(Recording.made) == 1
    console.close_health(ctx)
    assert given.closed == 1


def test_judged_links_are_ordered_as_streamhub_health_orders_them(app: FastAPI) -> None:
    # the console's worst-first key (console_filters.health_rank, over JSON rows, with its own
    # not-judged "unknown") must give health.summary's order to every judged institution
    connectors = tuple(
        Connector(f"c{n}-{system}", f"1234000{n}MB1234567X", system, f"院{n}", "127.0.0.1", 9)
        for n in range(6)
        for system in ("his", "lis")
    )
    ages = {"c1-his": 60, "c2-his": 200, "c3-his": 200, "c3-lis": 60, "c4-lis": 200, "c5-his": 60}
    beats = {c.name: (beat(ages.get(c.name, 5)),) for c in connectors}
    judged = observation(connectors=connectors, beats=beats)
    console.use_health_source(app.state.web, lambda: judged)
    rows = console.health_document(app.state.web)["institutions"]
    expected = worst_first(evaluate(judged, Thresholds()))
    assert [r["institution_id"] for r in rows] == [h.institution_id for h in expected]
    assert {r["overall"]["status"] for r in rows} == {"ok", "degraded", "down"}
