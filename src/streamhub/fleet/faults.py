"""Faults of fleet institutions: outage, burst, stuck feed, silent connector.

Written like ``streamhub simulate``'s faults, ``KIND:INSTITUTION[@AT][+FOR][,key=value…]``,
with AT and FOR in wall seconds from the start of the run (``30s``, ``2m``) and INSTITUTION
a fleet key (``h0001``, ``c0042``) or the institution's credit code:

    outage:h0001@30s+20s          the institution writes nothing for 20 s (its day waits:
                                  follow-ups due meanwhile come after); heartbeats go on
    burst:c0003@45s,rows=3000     one bulk UPDATE of 3,000 rows (entity=registration)
    stuck:h0002@60s+2m            heartbeats go on, no change leaves: the source's changes
                                  pile up (lag grows) and are sent when the feed moves again
    silent:h0002@60s+2m,system=lis  the connector neither heartbeats nor sends; it catches
                                  up afterwards (system= one connector; default all of them)

Without +FOR, stuck and silent last to the end of the run. ``streamhub simulate fleet-fault``
drops the same text into the running fleet's control directory; it applies on arrival.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from streamhub.errors import StreamhubError
from streamhub.fleet.errors import FleetFaultError
from streamhub.simulate.faults import CommandFiles, spec_fields

FaultKind = Literal["outage", "burst", "stuck", "silent"]
KINDS: tuple[FaultKind, ...] = ("outage", "burst", "stuck", "silent")
SPEC = re.compile(
    r"(?P<kind>[a-z]+):(?P<institution>[a-z]\d{2,4}|[0-9A-Z]{18})"
    r"(?:@(?P<at>\d+(?:\.\d+)?[sm]?))?(?:\+(?P<for>\d+(?:\.\d+)?[sm]?))?(?P<rest>(?:,[^,]+)*)"
)
OPTIONS = ("rows", "entity", "system")
EXAMPLES = "outage:h0001@30s+20s, burst:c0003@45s,rows=3000, stuck:h0002@1m+2m, silent:h0002"


@dataclass(frozen=True)
class FleetFault:
    kind: FaultKind
    institution: str  # fleet key or credit code
    at_s: float = 0.0
    for_s: float = 0.0  # 0: stuck/silent to the end of the run
    rows: int = 2000
    entity: str = "registration"
    system: str | None = None

    def describe(self) -> str:
        text = f"{self.kind}:{self.institution}@{self.at_s:g}s"
        text += f"+{self.for_s:g}s" if self.for_s else ""
        text += f",system={self.system}" if self.system else ""
        return text + (f",rows={self.rows},entity={self.entity}" if self.kind == "burst" else "")


def parse_fault(text: str) -> FleetFault:
    match = SPEC.fullmatch(text.strip())
    if match is None or match["kind"] not in KINDS:
        raise FleetFaultError(
            f"cannot read fault {text!r}; write KIND:INSTITUTION[@AT][+FOR][,key=value] with "
            f"KIND one of {', '.join(KINDS)}, e.g. {EXAMPLES}"
        )
    kind: FaultKind = match["kind"]
    spec = spec_fields(text, match, OPTIONS, "rows=N, entity=NAME, system=his", FleetFaultError)
    return FleetFault(
        kind=kind,
        institution=match["institution"],
        at_s=spec.at_s,
        for_s=spec.for_s,
        rows=spec.rows,
        entity=spec.options.get("entity", "registration"),
        system=spec.options.get("system"),
    )


class FleetControl(CommandFiles[FleetFault]):
    """Faults sent to a running fleet as files; each is applied once, then removed."""

    def build(self, item: Path, fields: Any) -> FleetFault:
        fault = FleetFault(**fields)
        if fault.kind not in KINDS:
            raise FleetFaultError(f"fault command {item}: unknown kind {fault.kind!r}")
        return fault

    def unreadable(self, message: str) -> StreamhubError:
        return FleetFaultError(message)
