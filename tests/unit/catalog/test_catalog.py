"""The catalog names schemas that parse, and no schema breaks its previous committed version."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from streamhub.catalog.errors import ApplyError, CatalogError
from streamhub.catalog.load import load_catalog, load_schema
from streamhub.serde.compatibility import check_level

ROOT = Path(__file__).resolve().parents[3]
SCHEMAS = ROOT / "avro_schemas"


def previous_committed(repo: Path, path: Path) -> dict[str, Any] | None:
    """The newest committed version of ``path`` that differs from the working tree, if any."""
    if shutil.which("git") is None:
        return None
    rel = path.relative_to(repo).as_posix()
    log = subprocess.run(
        ["git", "-C", str(repo), "log", "--format=%H", "--", rel],
        capture_output=True,
        text=True,
        check=False,
    )
    current = json.loads(path.read_text())
    for commit in log.stdout.split():
        shown = subprocess.run(
            ["git", "-C", str(repo), "show", f"{commit}:{rel}"],
            capture_output=True,
            text=True,
            check=False,
        )
        if shown.returncode != 0:  # file renamed or removed before this commit
            return None
        old = json.loads(shown.stdout)
        if old != current:
            return dict(old)
    return None


def backward_problems(repo: Path, path: Path) -> list[str]:
    previous = previous_committed(repo, path)
    if previous is None:
        return []
    return check_level("BACKWARD", json.loads(path.read_text()), [previous])


def test_every_catalog_entry_names_a_schema_that_parses() -> None:
    specs = load_catalog(ROOT / "topics")
    assert {s.name for s in specs} >= {
        "cdc.raw.his",
        "cdc.raw.emr",
        "cdc.raw.lis",
        "cdc.raw.pacs",
        "ops.heartbeat",
        "ops.source_counts",
        "ops.quality",
        "ops.reconciliation",
        "ops.anomaly",
        "dlq.standardize",
    }
    for spec in specs:
        if spec.value_format == "json":  # written by Kafka Connect: no Avro schema
            assert spec.value_schema is None
            assert spec.name.startswith(("_streamhub-connect_", "dbz."))
            continue
        assert spec.value_schema is not None
        assert load_schema(SCHEMAS, spec.value_schema)["type"] == "record"


@pytest.mark.parametrize(
    "schema", sorted(SCHEMAS.rglob("*.avsc")), ids=lambda p: p.relative_to(SCHEMAS).as_posix()
)
def test_schema_is_backward_compatible_with_its_previous_committed_version(schema: Path) -> None:
    assert backward_problems(ROOT, schema) == []


def test_the_history_check_catches_an_incompatible_change(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "t@example.invalid")
    git("config", "user.name", "t")
    schema = tmp_path / "s.avsc"
    v1 = {"type": "record", "name": "R", "fields": [{"name": "a", "type": "string"}]}
    schema.write_text(json.dumps(v1))
    git("add", "s.avsc")
    git("commit", "-qm", "v1")
    v2 = {**v1, "fields": [*v1["fields"], {"name": "b", "type": "long"}]}  # no default
    schema.write_text(json.dumps(v2))
    assert any("b" in p for p in backward_problems(tmp_path, schema))
    git("commit", "-qam", "v2")  # committed too: still compared with v1
    assert backward_problems(tmp_path, schema) != []


def test_broken_catalog_entries_are_refused(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("topics:\n  - name: Bad Name\n    partitions: 0\n")
    with pytest.raises(CatalogError, match=r"x\.yaml: topic #1"):
        load_catalog(tmp_path)
    with pytest.raises(CatalogError, match="does not exist"):
        load_schema(tmp_path, "ops/none.avsc")
    (tmp_path / "bad.avsc").write_text('{"type": "record", "name": "R", "fields": [{"name": 1}]}')
    with pytest.raises(CatalogError, match="not a valid Avro schema"):
        load_schema(tmp_path, "bad.avsc")


def test_apply_errors_are_catalog_errors() -> None:
    """The package's errors share its root, so a caller catching CatalogError sees both."""
    assert issubclass(ApplyError, CatalogError)
