"""Write helm/streamhub/values-province.yaml: the chart sized for a province of 1,751
institutions (the fleet's mix: hospitals with HIS/EMR/LIS/PACS, clinics with fewer).

Capture groups: the institutions of one district, cut into groups of at most
``--per-group`` institutions (about 100 connectors), each group a fail-over pair of agents
(one agent must be able to run all of its group's connectors when the other is lost). A
connector's password is ``password_env`` from its group's Secret
(``streamhub-capture-<group>``); no secret is in the file.

    .venv/bin/python helm/tools/province_values.py [--institutions 1751] [--per-group 40]
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from streamhub.config import load_settings
from streamhub.fleet.connectors import connector_config
from streamhub.fleet.mix import plan_fleet
from streamhub.simulate.dialect import load

OUT = Path(__file__).resolve().parents[1] / "streamhub" / "values-province.yaml"
PORTS = {"postgresql": 5432, "mariadb": 3306}

HEADER = """\
# The chart sized for a province: {institutions:,} institutions, {connectors:,} connectors in
# {groups} capture groups (fail-over pairs, by district). Written by
# helm/tools/province_values.py from the fleet's institutions; `helm template -f` this file
# is checked in CI (tests/unit/helm/test_chart.py). No secret is in it: connector passwords
# are password_env keys of each group's Secret, the rest is in secrets.existingSecret.
"""

SIZES: dict[str, Any] = {
    "settings": {
        "kafka_bootstrap": "kafka-0.kafka:9092,kafka-1.kafka:9092,kafka-2.kafka:9092",
        "clickhouse_dsn": "http://clickhouse:8123",
        "clickhouse_database": "streamhub",
        "clickhouse_cluster": "streamhub",
        "log_level": "info",
    },
    "secrets": {"existingSecret": "streamhub-secrets", "pseudonymRing": True},
    "serviceMonitor": {"enabled": True},
    "prometheusRule": {"enabled": True},
    "standardize": {
        "replicas": 6,
        "resources": {"requests": {"cpu": "1", "memory": "768Mi"}, "limits": {"memory": "1536Mi"}},
    },
    "land": {
        "replicas": 3,
        "config": {"flush_rows": 20000, "flush_ms": 500},
        "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "3Gi"}},
    },
    "reconcile": {
        "config": {"grace_ms": 180000},
        "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"memory": "4Gi"}},
    },
    "anomaly": {
        "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"memory": "4Gi"}},
    },
    "health": {
        "interval": 15,
        "thresholds": {"heartbeat_down_s": 180},
        "resources": {"requests": {"cpu": "250m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
    },
    "web": {"replicas": 1},  # sessions are in-process (web/auth.py): one replica
}


def province(institutions: int, per_group: int, seed: int) -> tuple[dict[str, Any], int]:
    settings = load_settings()
    by_district: dict[str, list[dict[str, Any]]] = defaultdict(list)
    shared_tables: dict[tuple[str, str], list[str]] = {}  # one list per dialect and system
    connectors = 0
    for member in plan_fleet(institutions, seed):
        inst = member.institution
        dialect = load(inst.dialect)
        documents = []
        for system in inst.systems:
            config = connector_config(settings, inst, dialect, system)
            document = config.model_dump(mode="json", exclude_defaults=True)
            document["name"] = f"{inst.key}-{system}"
            document["snapshot"] = {"mode": "initial"}
            document["connection"] = {
                "host": f"{inst.key}-{system}.db.{inst.region_code}.internal",
                "port": PORTS[config.engine],
                "database": system,
                "user": "streamhub_cdc",
                "password_env": f"PW_{inst.key.upper()}_{system.upper()}",
            }
            tables = shared_tables.setdefault((inst.dialect, system), list(config.tables))
            document["tables"] = tables  # the same list: written once, then as an alias
            documents.append(document)
        connectors += len(documents)
        by_district[inst.region_code].append({"institution": inst.key, "connectors": documents})
    groups = []
    for region in sorted(by_district):
        members = by_district[region]
        for n, start in enumerate(range(0, len(members), per_group), 1):
            name = f"d{region}-{n:02d}"
            chunk = members[start : start + per_group]
            groups.append(
                {
                    "name": name,
                    "existingSecret": f"streamhub-capture-{name}",
                    "connectors": [c for m in chunk for c in m["connectors"]],
                }
            )
    values = dict(SIZES)
    values["capture"] = {
        "enabled": True,
        "replicas": 2,
        "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
        "groups": groups,
    }
    return values, connectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--institutions", type=int, default=1751)
    parser.add_argument("--per-group", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    values, connectors = province(args.institutions, args.per_group, args.seed)
    text = HEADER.format(
        institutions=args.institutions,
        connectors=connectors,
        groups=len(values["capture"]["groups"]),
    ) + yaml.safe_dump(
        values, allow_unicode=True, sort_keys=False, width=100, default_flow_style=None
    )
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}: {len(values['capture']['groups'])} groups, {connectors} connectors")


if __name__ == "__main__":
    main()
