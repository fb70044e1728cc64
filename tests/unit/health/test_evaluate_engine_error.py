"""A connector's heartbeat that says why it is not streaming (Debezium: Kafka Connect's
error text) puts that text in link health's reason."""

from __future__ import annotations

from streamhub.health.evaluate import evaluate
from streamhub.health.model import Status
from streamhub.health.thresholds import Thresholds

from .builders import CONNECTOR, beat, observation

ERROR = "org.apache.kafka.connect.errors.ConnectException: Unable to connect to 127.0.0.1:9"


def test_a_failed_connector_shows_its_engines_error() -> None:
    [health] = evaluate(
        observation(beats={CONNECTOR.name: (beat(1, state="failed", error=ERROR),)}),
        Thresholds(),
    )
    assert health.overall is Status.DOWN
    assert health.reason == f"capture: sim-h01-his: connector reports failed ({ERROR})"


def test_a_connector_paused_in_kafka_connect_is_down_with_its_state() -> None:
    why = "connector PAUSED, tasks: PAUSED"
    [health] = evaluate(
        observation(beats={CONNECTOR.name: (beat(1, state="paused", error=why),)}),
        Thresholds(),
    )
    assert health.hop("capture").status is Status.DOWN
    assert health.reason == f"capture: sim-h01-his: connector is paused ({why})"
