"""The helm binary scripts/bootstrap builds, and rendering the chart into manifests."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml
from kubernetes_validate import utils as kv_utils

HELM_VERSION = "v4.3.2"
#: The Kubernetes release the manifests are validated against (kubernetes-validate's schemas).
KUBERNETES_VERSION = "1.33.0"
BUILD_WAIT_S = 1800  # a cold `go install` on a busy 2-core machine: minutes


def helm_binary(project_dir: Path) -> Path:
    """The helm bootstrap built (waiting for a build still running), else one on PATH."""
    tools = project_dir / ".streamhub" / "tools"
    built = tools / "bin" / f"helm-{HELM_VERSION}"
    pid_file = tools / "helm-build.pid"
    deadline = time.monotonic() + BUILD_WAIT_S
    while not built.exists() and _running(pid_file) and time.monotonic() < deadline:
        time.sleep(2)
    if built.exists():
        return built
    found = shutil.which("helm")
    if found is not None:
        return Path(found)
    log = tools / "helm-build.log"
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no build log)"
    raise FileNotFoundError(
        f"helm {HELM_VERSION} is not built: run scripts/bootstrap (it runs `go install "
        f"helm.sh/helm/v4/cmd/helm@{HELM_VERSION}` in the background); build log:\n{tail}"
    )


def _running(pid_file: Path) -> bool:
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return True


def helm(binary: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def load_yaml(text: str) -> Any:
    """PyYAML's C parser (a province's values and manifests are megabytes)."""
    return yaml.load(text, Loader=yaml.CSafeLoader)


def manifests(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.load_all(text, Loader=yaml.CSafeLoader) if doc]


@functools.lru_cache(maxsize=64)
def _schema_contents(filename: str, desired_version: str) -> Any:
    return _ORIGINAL_SCHEMA_CONTENTS(filename, desired_version)


_ORIGINAL_SCHEMA_CONTENTS = kv_utils.schema_contents


def validate(manifest: dict[str, Any]) -> None:
    """Validate against the Kubernetes schema of its kind (strict: unknown fields refused);
    raises kubernetes_validate.ValidationError, or SchemaNotFoundError for a custom kind."""
    # the library reads its 1.4 MB definitions file on every call: read each file once
    kv_utils.schema_contents = _schema_contents
    try:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    finally:
        kv_utils.schema_contents = _ORIGINAL_SCHEMA_CONTENTS
