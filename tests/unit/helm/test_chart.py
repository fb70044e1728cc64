"""The Helm chart: linted, rendered with the default and the province's values, every manifest
valid for Kubernetes, and each process given its settings, its secrets (from Secrets only)
and probes that reach its probe server.

helm is built by scripts/bootstrap (Go module proxy); without it these tests fail, never skip.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import kubernetes_validate
import pytest
import yaml

from streamhub.cli.anomaly_cmd import run_cmd as anomaly_run_cmd
from streamhub.cli.chart_schema import CHART_OPTIONS
from streamhub.cli.land_cmd import land_cmd
from streamhub.cli.reconcile_cmd import run_cmd as reconcile_run_cmd
from streamhub.config import SECRET_FIELDS
from streamhub.kafka.probes import PORT_ENV

from .helm_tool import helm, helm_binary, load_yaml, manifests, validate

PROCESSES = ("registry", "standardize", "land", "reconcile", "anomaly", "health", "web")
WORKERS = ("capture", "standardize", "land", "reconcile", "anomaly", "health")
CUSTOM_KINDS = {"ServiceMonitor", "PrometheusRule"}


@pytest.fixture(scope="module")
def chart(project_dir: Path) -> Path:
    return project_dir / "helm" / "streamhub"


@pytest.fixture(scope="module")
def helm_bin(project_dir: Path) -> Path:
    try:
        return helm_binary(project_dir)
    except FileNotFoundError as exc:
        pytest.fail(str(exc))


def render(helm_bin: Path, chart: Path, *args: str) -> list[dict[str, Any]]:
    done = helm(helm_bin, "template", "rel", ".", *args, cwd=chart)
    assert done.returncode == 0, done.stderr
    return manifests(done.stdout)


@pytest.fixture(scope="module")
def province(helm_bin: Path, chart: Path) -> list[dict[str, Any]]:
    return render(helm_bin, chart, "-f", "values-province.yaml")


@pytest.fixture(scope="module")
def province_values(chart: Path) -> dict[str, Any]:
    values: dict[str, Any] = load_yaml((chart / "values-province.yaml").read_text())
    return values


def check_all(docs: list[dict[str, Any]]) -> None:
    failures = []
    for doc in docs:
        name = f"{doc['kind']}/{doc['metadata']['name']}"
        if doc["kind"] in CUSTOM_KINDS:  # no Kubernetes schema: checked by their own tests
            continue
        try:
            validate(doc)
        except kubernetes_validate.ValidationError as exc:
            failures.append(f"{name}: {'.'.join(map(str, exc.path))}: {exc.message}")
    assert not failures, "\n".join(failures[:20])


def deployments(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


def env_of(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container(deployment)["env"]}


def secret_volume_keys(deployment: dict[str, Any]) -> dict[str, tuple[str, set[str]]]:
    """Volume name -> (Secret name, keys mounted) of every Secret volume of the pod."""
    out = {}
    for volume in deployment["spec"]["template"]["spec"]["volumes"]:
        secret = volume.get("secret")
        if secret:
            out[volume["name"]] = (secret["secretName"], {i["key"] for i in secret["items"]})
    return out


# ---------------------------------------------------------------------------------------


def test_the_chart_lints_with_default_and_province_values(helm_bin: Path, chart: Path) -> None:
    for args in ((), ("-f", "values-province.yaml")):
        done = helm(helm_bin, "lint", ".", "--strict", *args, cwd=chart)
        assert done.returncode == 0, done.stdout + done.stderr


def test_default_values_render_valid_manifests(helm_bin: Path, chart: Path) -> None:
    docs = render(helm_bin, chart)
    check_all(docs)
    names = set(deployments(docs))
    assert names == {f"rel-{p}" for p in PROCESSES}  # capture needs groups: off by default
    assert not [d for d in docs if d["kind"] in CUSTOM_KINDS]  # optional, off by default


def test_the_province_renders_every_process_valid(
    province: list[dict[str, Any]], province_values: dict[str, Any]
) -> None:
    check_all(province)
    found = deployments(province)
    capture = {n: d for n, d in found.items() if n.startswith("rel-capture-")}
    groups = province_values["capture"]["groups"]
    assert len(capture) == len(groups) >= 40  # 1,751 institutions in groups of ≤ 40
    assert set(found) - set(capture) == {f"rel-{p}" for p in PROCESSES}
    connectors = sum(len(g["connectors"]) for g in groups)
    assert connectors > 1751  # every institution has at least one connector
    budgets = {d["metadata"]["name"] for d in province if d["kind"] == "PodDisruptionBudget"}
    assert budgets == set(found)  # one per Deployment, capture groups included


def test_capture_groups_are_failover_pairs_with_their_own_connectors_and_secrets(
    province: list[dict[str, Any]],
) -> None:
    found = deployments(province)
    maps = {d["metadata"]["name"]: d for d in province if d["kind"] == "ConfigMap"}
    kafka_groups = set()
    for name, deployment in found.items():
        if not name.startswith("rel-capture-"):
            continue
        group = name.removeprefix("rel-capture-")
        spec = deployment["spec"]
        assert spec["replicas"] == 2
        assert "podAntiAffinity" in spec["template"]["spec"]["affinity"]
        env = env_of(deployment)
        kafka_groups.add(env["STREAMHUB_CAPTURE_GROUP"]["value"])
        files = maps[f"rel-connectors-{group}"]["data"]
        assert container(deployment)["args"][:3] == [
            "capture",
            "--connectors-dir",
            "/etc/streamhub/group",
        ]
        for text in files.values():
            connection = yaml.safe_load(text)["connection"]
            assert "password" not in connection
            ref = env[connection["password_env"]]["valueFrom"]["secretKeyRef"]
            assert ref == {"name": f"streamhub-capture-{group}", "key": connection["password_env"]}
    assert len(kafka_groups) == len([n for n in found if n.startswith("rel-capture-")])


def test_each_process_gets_its_settings(
    province: list[dict[str, Any]], province_values: dict[str, Any]
) -> None:
    for name, deployment in deployments(province).items():
        env = env_of(deployment)
        assert len(env) == len(container(deployment)["env"]), name  # each variable once
        for key, value in province_values["settings"].items():
            assert env[f"STREAMHUB_{key.upper()}"]["value"] == str(value), (name, key)
        assert env["STREAMHUB_REGISTRY_URL"]["value"] == "http://rel-registry:8081"
        assert env["STREAMHUB_DATA_DIR"]["value"] == "/var/lib/streamhub"
    found = deployments(province)
    land = container(found["rel-land"])["args"]
    assert land[:1] == ["land"] and "--flush-rows" in land and "20000" in land
    reconcile = container(found["rel-reconcile"])["args"]
    assert reconcile[:2] == ["reconcile", "run"] and reconcile[-2:] == ["--grace", "180s"]
    health = container(found["rel-health"])["args"]
    assert "--threshold=heartbeat_down_s=180" in health
    for singleton in ("rel-reconcile", "rel-anomaly", "rel-health", "rel-registry"):
        assert found[singleton]["spec"]["strategy"] == {"type": "Recreate"}


def test_secrets_come_from_secrets_as_files_never_values(province: list[dict[str, Any]]) -> None:
    found = deployments(province)
    standardize = secret_volume_keys(found["rel-standardize"])
    assert standardize == {
        "secrets": ("streamhub-secrets", {"pseudonym_keys", "pseudonym_identity_key"})
    }
    assert secret_volume_keys(found["rel-reconcile"]) == {
        "secrets": ("streamhub-secrets", {"pseudonym_identity_key"})
    }
    assert secret_volume_keys(found["rel-web"])["web-users"][0] == "streamhub-web-users"
    for deployment in (found["rel-standardize"], found["rel-reconcile"]):
        mounts = {m["name"]: m for m in container(deployment)["volumeMounts"]}
        # where Settings reads <data_dir>/secrets/<name> and the person-key ring
        assert mounts["secrets"]["mountPath"] == "/var/lib/streamhub/secrets"
        assert mounts["secrets"]["readOnly"] is True
    secret_envs = {f"STREAMHUB_{name.upper()}" for name in SECRET_FIELDS}
    for name, deployment in found.items():
        for var in env_of(deployment).values():
            assert var["name"] not in secret_envs, (name, var["name"])
            if var["name"].startswith("PW_"):
                assert "value" not in var and "secretKeyRef" in var["valueFrom"]


def test_workers_have_probes_on_their_probe_server(province: list[dict[str, Any]]) -> None:
    for name, deployment in deployments(province).items():
        main = container(deployment)
        ports = {p["name"]: p["containerPort"] for p in main["ports"]}
        if name.removeprefix("rel-").split("-")[0] in WORKERS:
            assert env_of(deployment)[PORT_ENV]["value"] == str(ports["probe"])
            assert main["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "probe"}
            assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "probe"}
        else:  # the registry and the web app: their own HTTP server answers
            assert main["readinessProbe"]["httpGet"]["port"] == "http"
            assert "tcpSocket" in main["livenessProbe"]


def test_monitoring_objects_follow_monitoring_files(
    province: list[dict[str, Any]], project_dir: Path
) -> None:
    (rule,) = [d for d in province if d["kind"] == "PrometheusRule"]
    alerts = yaml.safe_load((project_dir / "monitoring" / "alerts.yml").read_text())
    assert rule["spec"] == alerts
    (monitor,) = [d for d in province if d["kind"] == "ServiceMonitor"]
    assert monitor["spec"]["jobLabel"] == "streamhub.io/job"
    selector = monitor["spec"]["selector"]["matchLabels"]
    scraped = {
        d["metadata"]["labels"]["streamhub.io/job"]
        for d in province
        if d["kind"] == "Service"
        and all(d["metadata"]["labels"].get(k) == v for k, v in selector.items())
        and any(p["name"] == "metrics" for p in d["spec"]["ports"])
    }
    jobs = set(re.findall(r'job="([^"]+)"', (project_dir / "monitoring/alerts.yml").read_text()))
    assert jobs <= scraped  # every job an alert watches is scraped under its name


def test_the_charts_alert_rules_are_monitorings(project_dir: Path) -> None:
    copy = project_dir / "helm" / "streamhub" / "files" / "alerts.yml"
    assert copy.read_text() == (project_dir / "monitoring" / "alerts.yml").read_text(), (
        "helm/streamhub/files/alerts.yml differs from monitoring/alerts.yml: copy it over"
    )


@pytest.mark.parametrize(
    ("args", "refused"),
    [
        (("--set", "settings.postgres_password=hunter2hunter2"), "postgres_password"),
        (("--set", "settings.pseudonym_key=0123456789abcdef"), "pseudonym_key"),
        (("--set", "land.config.dsn=http://x:8123"), "dsn"),
        (("--set", "reconcile.replicas=2"), "replicas"),
        (("--set", "web.replicas=2"), "replicas"),
        (("--set", "settings.clickhouse_dsn=http://u:pw@ch:8123"), "holds credentials"),
        (("--set", "settings.clickhouse_dsn=chdb:///var/lib/ch"), "ClickHouse server"),
        (("--set", "capture.enabled=true"), "capture.groups"),
    ],
)
def test_values_that_would_leak_or_mislead_are_refused(
    helm_bin: Path, chart: Path, args: tuple[str, ...], refused: str
) -> None:
    done = helm(helm_bin, "template", "rel", ".", *args, cwd=chart)
    assert done.returncode != 0
    assert refused in done.stderr
    assert "hunter2" not in done.stderr


def _options(command: click.Command) -> set[str]:
    return {opt for param in command.params for opt in getattr(param, "opts", [])}


@pytest.fixture
def every_option(tmp_path: Path) -> Iterator[Path]:
    values = {
        "land": {"config": dict.fromkeys(CHART_OPTIONS["LanderConfig"], 7)},
        "reconcile": {"config": dict.fromkeys(CHART_OPTIONS["ReconcileSettings"], 60000)},
        "anomaly": {"config": {"baseline": {"min_history": 9}}},
    }
    values["land"]["config"] |= {"landed_counts_topic": "ops.x", "dlq_topic": "dlq.x"}
    path = tmp_path / "options.yaml"
    path.write_text(yaml.safe_dump(values))
    yield path


def test_config_blocks_reach_their_commands_options(
    helm_bin: Path, chart: Path, every_option: Path
) -> None:
    commands = {"LanderConfig": land_cmd, "ReconcileSettings": reconcile_run_cmd}
    for model, options in CHART_OPTIONS.items():
        assert set(options.values()) <= _options(commands[model]), model
    found = deployments(render(helm_bin, chart, "-f", str(every_option)))
    land = container(found["rel-land"])["args"]
    reconcile = container(found["rel-reconcile"])["args"]
    for flag in CHART_OPTIONS["LanderConfig"].values():
        assert flag in land
    assert reconcile[-4:] == ["--grace", "60s", "--retention", "60s"]
    assert "--min-history" in _options(anomaly_run_cmd)
    assert container(found["rel-anomaly"])["args"][-2:] == ["--min-history", "9"]
