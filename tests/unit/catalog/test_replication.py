"""What `topics apply` asks of a cluster: the catalog's replication 3 and min ISR 2 on three
brokers, capped on one (the local default), never a min ISR that stops writes when one
broker of three is lost."""

from __future__ import annotations

from pathlib import Path

from streamhub.catalog.load import load_catalog
from streamhub.catalog.model import TopicSpec

ROOT = Path(__file__).resolve().parents[3]


def _spec(**configs: str) -> TopicSpec:
    return TopicSpec(
        name="ops.example",
        partitions=1,
        replication=3,
        cleanup_policy="delete",
        retention_ms=1000,
        key="institution id",
        value_schema="ops/example.avsc",
        security_level=2,
        security_category="health resources",
        owner="platform",
        description="an example topic for the test",
        configs=configs,
    )


def test_every_catalog_topic_gets_min_isr_2_at_three_replicas_and_1_on_one_broker() -> None:
    for spec in load_catalog(ROOT / "topics"):
        assert spec.replication == 3, spec.name
        assert spec.desired_configs(3)["min.insync.replicas"] == "2", spec.name
        assert spec.desired_configs(1)["min.insync.replicas"] == "1", spec.name


def test_a_catalog_min_isr_is_kept_below_the_replicas() -> None:
    assert _spec().desired_configs(3)["min.insync.replicas"] == "2"
    assert _spec(**{"min.insync.replicas": "1"}).desired_configs(3)["min.insync.replicas"] == "1"
    # 3 of 3 would refuse every acks=all write while one broker is down
    assert _spec(**{"min.insync.replicas": "3"}).desired_configs(3)["min.insync.replicas"] == "2"
    assert _spec(**{"min.insync.replicas": "2"}).desired_configs(2)["min.insync.replicas"] == "1"
