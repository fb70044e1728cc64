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


def many(count: int, silent: set[int]) -> Observation:
    """``count`` institutions (district 思明区, one connector each), those in ``silent``
    without a heartbeat (down)."""
    from dataclasses import replace

    from streamhub.codes import credit_code

    connectors = []
    beats = {}
    for i in range(count):
        code = credit_code.make("1", "2", "350203", f"{i:08d}")
        connector = replace(CONNECTOR, name=f"c{i:04d}-his", institution_id=code, port=None)
        connectors.append(connector)
        if i not in silent:
            beats[connector.name] = (beat(10), beat(5))
    return observation(connectors=tuple(connectors), beats=beats)


def test_many_institutions_print_the_summary_and_the_worst_first(
    observed: list[Observation],
) -> None:
    observed[0] = many(30, silent={4, 17})
    result = run()
    assert result.exit_code == 4
    lines = result.output.splitlines()
    assert lines[0] == "30 institutions: 28 healthy, 0 degraded, 2 down"
    assert lines[1] == "by hop: capture 2 down, 0 degraded"
    assert "worst 2:" in lines
    rows = [line for line in lines if line.startswith("1235")]
    assert [row.split()[0][-6:-2] for row in rows] == ["0004", "0017"]  # only the down ones
    assert "--all for the full table" in result.output

    everyone = run("--all")
    assert len([line for line in everyone.output.splitlines() if line.startswith("1235")]) == 32
    assert len([line for line in run("--worst", "1").output.splitlines() if "c0017" in line]) == 0


def test_state_and_district_filter_what_is_shown_and_the_exit_status(
    observed: list[Observation],
) -> None:
    observed[0] = many(30, silent={4})
    healthy_only = run("--state", "healthy", "--format", "json")
    assert healthy_only.exit_code == 0
    shown = json.loads(healthy_only.output)
    assert len(shown["institutions"]) == 29
    assert shown["summary"]["by_status"] == {"healthy": 29, "degraded": 0, "down": 0}
    down = run("--state", "down", "--district", "思明区")
    assert down.exit_code == 4 and "c0004-his" in down.output
    elsewhere = run("--district", "湖里区")
    assert elsewhere.exit_code == 0
    assert "no institution matches" in elsewhere.output
    assert run("--district", "Atlantis").exit_code == 2


def test_institution_shows_only_that_institution(observed: list[Observation]) -> None:
    observed[0] = many(30, silent={4})
    wanted = credit_code_of(7)
    result = run("--institution", wanted, "--format", "json")
    assert result.exit_code == 0
    assert [i["institution_id"] for i in json.loads(result.output)["institutions"]] == [wanted]
    assert run("--institution", credit_code_of(4)).exit_code == 4


def credit_code_of(index: int) -> str:
    from streamhub.codes import credit_code

    return credit_code.make("1", "2", "350203", f"{index:08d}")
