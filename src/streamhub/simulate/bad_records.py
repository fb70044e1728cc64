"""The kinds of bad record the simulator can plant, and how each is recognised in a row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

BadKind = Literal[
    "bad_id_checksum",
    "unknown_code",
    "missing_required",
    "undecodable_text",
    "discharge_before_admission",
]
BAD_KINDS: tuple[BadKind, ...] = (
    "bad_id_checksum",
    "unknown_code",
    "missing_required",
    "undecodable_text",
    "discharge_before_admission",
)
# bytes that are never valid in GBK or GB18030 (0xFF is not a lead byte in either)
UNDECODABLE_TAIL = b"\xff\xff"


@dataclass(frozen=True)
class PlantedRecord:
    """A bad record the simulator wrote on purpose: the row and the fields that are wrong."""

    institution: str
    entity: str
    key: int
    kind: BadKind
    fields: tuple[str, ...]


def parse_kinds(text: str) -> tuple[BadKind, ...]:
    """``all`` or a comma-separated subset of :data:`BAD_KINDS`."""
    if text.strip() in ("", "all"):
        return BAD_KINDS
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in BAD_KINDS]
    if unknown:
        raise ValueError(f"unknown bad-record kinds {unknown}; choose from {', '.join(BAD_KINDS)}")
    return kinds  # type: ignore[return-value]
