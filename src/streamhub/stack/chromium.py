"""Debian's Chromium for the browser test of the web app (Playwright drives it; nothing is
downloaded by the test tool itself, which this machine's registries would refuse)."""

from __future__ import annotations

from pathlib import Path

from streamhub.stack import process

# a CJK font: without one, the Chinese dashboard renders as boxes in screenshots
PACKAGES = ("chromium", "fonts-wqy-microhei")
EXECUTABLE = Path("/usr/bin/chromium")
_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")


def ensure_installed() -> tuple[Path, str]:
    """The Chromium executable, installing the packages first if needed; and what was done.

    Raises MissingSoftwareError (with the apt-get command) when absent and not root.
    """
    if EXECUTABLE.exists() and _FONT.exists():
        return EXECUTABLE, "present"
    process.apt_install(list(PACKAGES), "Chromium (headless, for the browser test)")
    return EXECUTABLE, "installed"
