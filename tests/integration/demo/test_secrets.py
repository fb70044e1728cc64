"""A short full demo prints and logs no secret, and leaves its data directory owner-only.

The demo runs every process of the pipeline (capture in the demo process; standardize,
land with its query endpoint, reconcile, anomaly, health exporter and the web app as
children) against the running stack, in a data directory of its own (its own chDB,
secrets, logs, web users), with its own database prefix, consumer groups and ports, so
it disturbs neither the default demo nor other tests. A password is planted in the
registry URL every process uses (the schema registry client sends it as basic auth; the
local registry ignores it): it must be masked wherever the URL is printed.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from streamhub.config import Settings
from streamhub.stack.permissions import exposed

DEMO_TIMEOUT_S = 420
PORT_OFFSET = 1500  # metrics 40601-40605, query 40606, web 39580


def _secret_values(secrets_dir: Path) -> dict[str, str]:
    """Each secret file's value; for a multi-line file (a keyring), each long token too."""
    found = {}
    for path in sorted(secrets_dir.iterdir()):
        text = path.read_text(encoding="utf-8").strip()
        if not text:
            continue
        found[path.name] = text
        if any(c.isspace() for c in text):
            for i, token in enumerate(re.split(r"[\s:=,\"']+", text)):
                if len(token) >= 16:
                    found[f"{path.name}[{i}]"] = token
    return found


def test_demo_run_leaks_no_secret_and_is_owner_only(
    settings: Settings, project_dir: Path, unique: Callable[[str], str], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    own_secrets = data / "secrets"
    own_secrets.mkdir(mode=0o700)
    # the stack's database passwords and keys; the run generates its own query token and
    # web passwords beside them
    for path in settings.secrets_dir.iterdir():
        if path.is_file() and not path.name.startswith(("query_token", "web_")):
            target = own_secrets / path.name
            shutil.copyfile(path, target)
            target.chmod(0o600)
    planted = "planted-" + secrets.token_urlsafe(18)
    prefix = unique("sec").replace("-", "_")[:24]
    env = {
        **os.environ,
        "STREAMHUB_DATA_DIR": str(data),
        "STREAMHUB_PROJECT_DIR": str(project_dir),
        "STREAMHUB_REGISTRY_URL": f"http://demo:{planted}@{settings.registry_url.split('://')[1]}",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "streamhub",
            "--log-level",
            "info",
            "demo",
            "--hospitals",
            "1",
            "--clinics",
            "1",
            "--rate",
            "40",
            "--duration",
            "15s",
            "--bad-fraction",
            "0.05",
            "--every",
            "3",
            "--db-prefix",
            prefix,
            "--port-offset",
            str(PORT_OFFSET),
        ],
        env=env,
        cwd=project_dir,
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_S,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    logs = data / "demo"
    for worker in ("standardize", "land", "reconcile", "anomaly", "health", "serve"):
        assert (logs / f"{worker}.log").stat().st_size > 0, f"{worker} logged nothing"
    assert "drained" in output

    values = _secret_values(own_secrets)
    values["planted registry password"] = planted
    assert {"query_token", "web_official_password", "postgres_password"} <= set(values)
    texts = {"demo stdout/stderr": output}
    for path in sorted(p for p in data.rglob("*") if p.is_file()):
        if path.suffix in (".log", ".jsonl") or path.parent.name in ("demo", "logs"):
            texts[str(path.relative_to(data))] = path.read_text(encoding="utf-8", errors="replace")
    assert len(texts) > 6
    leaks = [
        f"{name} in {where}"
        for where, text in texts.items()
        for name, value in values.items()
        if value in text
    ]
    assert {"leaks": leaks, "readable by others": exposed(data)} == {
        "leaks": [],
        "readable by others": [],
    }
