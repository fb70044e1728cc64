"""Jars from Maven Central: a pom shipped with the package, resolved with `mvn` into
directories that are kept until the pom changes (its hash is stamped into each)."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from streamhub.stack import process

STAMP = ".pom-sha256"


def resolve_jars(
    pom_resource: str, home: Path, targets: Mapping[str | None, Path], what: str
) -> bool:
    """Copy the runtime dependencies of the pom's profile (None: no profile) into its target
    directory, for every target whose stamp is not this pom's hash; True if any was resolved.
    Installs Java 17 and Maven from Debian's packages when they are missing."""
    pom_text = resources.files("streamhub.stack").joinpath(pom_resource).read_text()
    digest = hashlib.sha256(pom_text.encode()).hexdigest()
    stale = {
        profile: target
        for profile, target in targets.items()
        if not (target / STAMP).exists() or (target / STAMP).read_text().strip() != digest
    }
    if not stale:
        return False
    if shutil.which("java") is None or shutil.which("mvn") is None:
        process.apt_install(["openjdk-17-jre-headless", "maven"], "Java 17 and Maven")
    home.mkdir(parents=True, exist_ok=True)
    pom = home / pom_resource  # one file per pom: several may resolve into one home
    pom.write_text(pom_text)
    for profile, target in stale.items():
        if target.exists():
            shutil.rmtree(target)
        process.run(
            [
                "mvn",
                "-q",
                "-B",
                "-f",
                str(pom),
                *(("-P", profile) if profile is not None else ()),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={target}",
                "-DincludeScope=runtime",
            ],
            f"resolving {what}{f' ({profile})' if profile else ''} from Maven Central",
        )
        (target / STAMP).write_text(digest + "\n")
    return True
