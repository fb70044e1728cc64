"""`streamhub health` exit codes and filtering, over a hand-built observation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from streamhub.cli.main import cli
from streamhub.health import gather as gathering
from streamhub.health.model import Observation

from .builders import CONNECTOR, INST, beat, observation


@pytest.fixture
def observed(monkeypatch: pytest.MonkeyPatch) -> list[Observation]:
    """What the next `streamhub health` reads instead of Kafka."""
    box: list[Observation] = [observation()]

    def fake(settings: Any, limits: Any, now_ms: int | None = None) -> Observation:
        return box[0]

    monkeypatch.setattr(gathering, "gather", fake)
    return box


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["health", *args])


def test_all_healthy_exits_0(observed: list[Observation]) -> None:
    result = run()
    assert result.exit_code == 0, result.output
    assert "all hops healthy" in result.output


def test_degraded_exits_3_and_down_exits_4(observed: list[Observation]) -> None:
    observed[0] = observation(beats={CONNECTOR.name: (beat(45),)})
    assert run().exit_code == 3
    observed[0] = observation(beats={CONNECTOR.name: (beat(500),)})
    result = run("--format", "json")
    assert result.exit_code == 4
    assert json.loads(result.output)["institutions"][0]["overall"] == "down"


def test_an_unknown_institution_is_an_error_naming_it(observed: list[Observation]) -> None:
    result = run("--institution", "nope")
    assert result.exit_code == 1
    assert "no institution nope" in result.output
    assert run("--institution", INST).exit_code == 0


def test_kafka_unreachable_without_any_institution_is_an_error(
    observed: list[Observation],
) -> None:
    observed[0] = observation(connectors=(), beats={}, kafka_error="Kafka at x did not answer")
    result = run()
    assert result.exit_code == 1
    assert "error: Kafka at x did not answer" in result.output
