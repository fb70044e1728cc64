"""Faults on command: an institution's outage, a bulk-update burst, a schema change.

A fault is written ``KIND:INSTITUTION[@AT][+FOR][,key=value…]``, with AT and FOR
in wall-clock seconds (``30s``, ``2m``) from the start of the run:

    outage:h01@30s+20s              h01 writes nothing for 20 s
    burst:c01@45s,rows=3000         one UPDATE touching 3,000 rows (entity=registration)
    alter:h02@50s,entity=patient    ALTER TABLE … ADD COLUMN, from the dialect's list

Scheduled faults (``--fault``) happen at a fixed simulated moment, so they are
part of a deterministic run. ``streamhub simulate fault`` drops the same text
into the running simulator's control directory; it applies on arrival.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from streamhub.errors import StreamhubError
from streamhub.simulate.errors import FaultSpecError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

FaultKind = Literal["outage", "burst", "alter"]
SPEC = re.compile(
    r"(?P<kind>outage|burst|alter):(?P<institution>[a-z]\d{2})"
    r"(?:@(?P<at>\d+(?:\.\d+)?[sm]?))?(?:\+(?P<for>\d+(?:\.\d+)?[sm]?))?(?P<rest>(?:,[^,]+)*)"
)
DEFAULT_ENTITY = {"burst": "registration"}
C = TypeVar("C", bound="DataclassInstance")


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    institution: str
    at_s: float = 0.0
    for_s: float = 0.0
    rows: int = 2000
    entity: str | None = None

    def describe(self) -> str:
        return f"{self.kind}:{self.institution}@{self.at_s:g}s" + (
            f"+{self.for_s:g}s" if self.for_s else ""
        )


def _seconds(text: str | None) -> float:
    if not text:
        return 0.0
    if text.endswith("m"):
        return float(text[:-1]) * 60
    return float(text.removesuffix("s"))


@dataclass(frozen=True)
class SpecFields:
    """What follows ``KIND:INSTITUTION`` in a fault spec, read."""

    options: dict[str, str]
    at_s: float
    for_s: float
    rows: int


def spec_fields(
    text: str,
    match: re.Match[str],
    allowed: tuple[str, ...],
    hint: str,
    error: type[StreamhubError],
) -> SpecFields:
    """The options (``allowed`` names, ``hint`` shows them), AT, FOR and rows of the fault
    spec ``text`` matched by ``match``; ``error`` is raised for a bad option, an outage
    without duration or rows that are not a whole number."""
    options: dict[str, str] = {}
    for item in filter(None, match["rest"].split(",")):
        name, _, value = item.partition("=")
        if name not in allowed or not value:
            raise error(f"fault {text!r}: unknown option {item!r} ({hint})")
        options[name] = value
    duration = _seconds(match["for"])
    if match["kind"] == "outage" and duration <= 0:
        raise error(f"fault {text!r}: an outage needs a duration, e.g. +20s")
    try:
        rows = int(options.get("rows", "2000"))
    except ValueError as exc:
        raise error(f"fault {text!r}: rows must be a whole number") from exc
    return SpecFields(options, _seconds(match["at"]), duration, rows)


def parse_fault(text: str) -> Fault:
    match = SPEC.fullmatch(text.strip())
    if match is None:
        raise FaultSpecError(
            f"cannot read fault {text!r}; write KIND:INSTITUTION[@AT][+FOR][,key=value], "
            "e.g. outage:h01@30s+20s, burst:c01@45s,rows=3000, alter:h02@50s,entity=patient"
        )
    kind: FaultKind = match["kind"]  # type: ignore[assignment]
    spec = spec_fields(text, match, ("rows", "entity"), "rows=N, entity=NAME", FaultSpecError)
    return Fault(
        kind=kind,
        institution=match["institution"],
        at_s=spec.at_s,
        for_s=spec.for_s,
        rows=spec.rows,
        entity=spec.options.get("entity", DEFAULT_ENTITY.get(kind)),
    )


class CommandFiles(Generic[C]):
    """Commands sent to a running process as JSON files; each is applied once, then removed.

    A subclass says how a command's fields become a command (``build``, raising its
    package's error) and which error names an unreadable file (``unreadable``).
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def build(self, item: Path, fields: Any) -> C:
        raise NotImplementedError

    def unreadable(self, message: str) -> StreamhubError:
        raise NotImplementedError

    def send(self, command: C) -> Path:
        self.path.mkdir(parents=True, exist_ok=True)
        # named by send time first: a poll applies the commands in the order they were sent
        target = self.path / f"{time.time_ns():020d}-{uuid.uuid4().hex}.json"
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(command)), encoding="utf-8")
        tmp.replace(target)
        return target

    def receive(self) -> list[C]:
        if not self.path.is_dir():
            return []
        commands = []
        for item in sorted(self.path.glob("*.json")):
            try:
                commands.append(self.build(item, json.loads(item.read_text(encoding="utf-8"))))
            except (ValueError, TypeError) as exc:
                raise self.unreadable(f"unreadable fault command {item}: {exc}") from exc
            finally:
                item.unlink(missing_ok=True)
        return commands


class ControlDirectory(CommandFiles[Fault]):
    """Faults sent to a running simulator as files; each is applied once, then removed."""

    def build(self, item: Path, fields: Any) -> Fault:
        return Fault(**fields)

    def unreadable(self, message: str) -> StreamhubError:
        return FaultSpecError(message)
