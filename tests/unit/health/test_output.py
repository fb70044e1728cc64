"""The table, the JSON document and the Prometheus gauges of one check."""

from __future__ import annotations

import json

from prometheus_client import CollectorRegistry, generate_latest

from streamhub.health.evaluate import evaluate
from streamhub.health.exporter import HealthCollector
from streamhub.health.model import Connector, InstitutionHealth, Observation, TopicLag
from streamhub.health.render import as_json, table
from streamhub.health.thresholds import Thresholds

from .builders import CONNECTOR, INST, NOW, beat, observation

OTHER = Connector("sim-c01-his", "91110000MA01234567", "his", "Clinic", "127.0.0.1", 33306)


def two_institutions() -> tuple[Observation, list[InstitutionHealth]]:
    obs = observation(
        connectors=(CONNECTOR, OTHER),
        beats={CONNECTOR.name: (beat(5),), OTHER.name: (beat(200),)},
        lags=(TopicLag("std-g", "cdc.raw.his", 7, NOW - 3_000),),
        landed_commit_ms={INST: NOW - 30_000},
    )
    return obs, evaluate(obs, Thresholds())


def test_the_table_aligns_columns_around_wide_names() -> None:
    _, healths = two_institutions()
    lines = table(healths).splitlines()
    assert lines[0].split() == [
        "INSTITUTION",
        "NAME",
        "OVERALL",
        "SOURCE",
        "CAPTURE",
        "CHANNEL",
        "PROCESSING",
        "CENTER",
        "REASON",
    ]
    # the OVERALL column starts at the same display column on every line despite 第一医院
    assert [line.split()[2] for line in lines[1:]] == ["healthy", "down"]
    assert lines[1].endswith("all hops healthy")
    assert "capture: sim-c01-his: last heartbeat 200 s ago" in lines[2]
    header_at = lines[0].index("OVERALL")
    assert lines[2].index("down") == header_at  # ASCII name: plain offsets
    assert lines[1].index("healthy") + 4 == header_at  # 4 wide characters, 2 columns each


def test_the_json_document_carries_every_hop_and_figure() -> None:
    obs, healths = two_institutions()
    document = json.loads(as_json(healths, obs))
    first = document["institutions"][0]
    assert first["institution_id"] == INST and first["overall"] == "healthy"
    assert first["hops"]["capture"] == {"status": "healthy", "reasons": []}
    assert first["landing_freshness_s"] == 30.0
    second = document["institutions"][1]
    assert second["hops"]["capture"]["status"] == "down"
    assert document["consumer_lag"] == [
        {
            "group": "std-g",
            "topic": "cdc.raw.his",
            "messages": 7,
            "committed": True,
            "oldest_age_s": 3.0,
        }
    ]


def test_the_collector_exports_the_contract_gauges_with_bounded_labels() -> None:
    obs, healths = two_institutions()
    collector = HealthCollector()
    registry = CollectorRegistry()
    registry.register(collector)
    assert "streamhub_health_link_state" not in generate_latest(registry).decode()  # before a check
    collector.update(healths, obs)
    text = generate_latest(registry).decode()
    assert f'streamhub_health_link_state{{institution="{INST}"}} 0.0' in text
    assert 'streamhub_health_link_state{institution="91110000MA01234567"} 2.0' in text
    assert 'streamhub_health_hop_state{hop="capture",institution="91110000MA01234567"} 2.0' in text
    heartbeat = 'streamhub_health_heartbeat_age_seconds{connector="sim-h01-his",institution='
    assert f'{heartbeat}"{INST}"}} 5.0' in text
    assert 'streamhub_health_consumer_lag_messages{group="std-g",topic="cdc.raw.his"} 7.0' in text
    assert (
        f'streamhub_health_dead_letters_per_minute{{institution="{INST}",stage="land"}} 0.0' in text
    )
    assert f'streamhub_health_landing_freshness_seconds{{institution="{INST}"}} 30.0' in text
    for name in (
        "streamhub_health_source_lag_seconds",
        "streamhub_health_checked_timestamp_seconds",
    ):
        assert f"# TYPE {name} gauge" in text
