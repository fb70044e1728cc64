"""Importing one reconcile module loads that module, not the whole reconciler."""

from __future__ import annotations

import subprocess
import sys


def loaded_after(module: str) -> set[str]:
    code = (
        f"import sys, {module}\n"
        "print('\\n'.join(m for m in sys.modules if m.startswith('streamhub.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


def test_the_package_file_imports_nothing() -> None:
    loaded = loaded_after("streamhub.reconcile")
    assert not {m for m in loaded if m.startswith("streamhub.reconcile.")}


def test_the_table_keys_come_without_the_reconciler() -> None:
    loaded = loaded_after("streamhub.reconcile.keys")
    assert "streamhub.reconcile.reconciler" not in loaded
    assert "streamhub.reconcile.inputs" not in loaded
