"""The shape of ICD-10 codes in the national clinical / insurance 2.0 versions."""

from __future__ import annotations

import re

# DOMAIN.md's ^[A-Z]\d{2}(\.[0-9x]\d{2}(x\d{3})?)?$ with [0-9] for \d (Python's \d takes any
# Unicode digit) and fullmatch for $ (which also matches before a trailing newline).
PATTERN = re.compile(r"[A-Z][0-9]{2}(?:\.[0-9x][0-9]{2}(?:x[0-9]{3})?)?")


def is_well_formed(code: str) -> bool:
    """Whether ``code`` has the shape of ``J18.900``, ``I10.x00`` or ``I50.900x007``."""
    return PATTERN.fullmatch(code) is not None
