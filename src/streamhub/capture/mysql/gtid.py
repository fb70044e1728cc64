"""GTID positions of the binlog stream (MariaDB per-domain GTIDs, MySQL GTID sets).

MariaDB: a transaction's GTID ``domain-server-seq`` is its rows' ``position`` and ``txid``;
``resume`` lists the last GTID of every domain seen, which is what MariaDB takes as
``@slave_connect_state``. MySQL (kept minimal): ``uuid:n`` with seq n; ``resume`` is the
executed GTID set.

A server stream shared by several connectors (``server_stream``) starts from the ``meet`` of
their positions (what every one of them has) and hands each connector only the transactions
its own position does not ``contain``.
"""

from __future__ import annotations

import re

from pymysqlreplication.gtid import Gtid, GtidSet

_MARIADB_GTID = re.compile(r"^\d+-\d+-\d+$")


def parse_mariadb_gtids(text: str) -> dict[int, str]:
    """``"0-1-5,1-2-9"`` → {domain: gtid}; ValueError when malformed."""
    gtids: dict[int, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if not _MARIADB_GTID.match(part):
            raise ValueError(f"{part!r} is not a MariaDB GTID (domain-server-seq)")
        gtids[int(part.split("-")[0])] = part
    return gtids


def head_seq(position: str, mariadb: bool) -> int:
    """The largest sequence number in a GTID position (MariaDB list or MySQL set)."""
    if mariadb:
        return max(
            (int(g.rsplit("-", 1)[1]) for g in parse_mariadb_gtids(position).values()), default=0
        )
    ends = [
        int(interval.rsplit("-", 1)[-1])
        for member in position.replace("\n", "").split(",")
        for interval in member.split(":")[1:]
        if interval.replace("-", "").isdigit()
    ]
    return max(ends, default=0)


class GtidPosition:
    """The stream position after the last commit: MariaDB GTID per domain, or MySQL GTID set."""

    def __init__(self, start: str, mariadb: bool) -> None:
        self._mariadb = mariadb
        if mariadb:
            self._domains = parse_mariadb_gtids(start)
        else:
            self._set = GtidSet(start or None)

    def commit(self, gtid: str) -> None:
        if self._mariadb:
            self._domains[int(gtid.split("-")[0])] = gtid
        else:
            self._set = self._set + Gtid(gtid)

    def contains(self, gtid: str) -> bool:
        """The transaction ``gtid`` is at or before this position."""
        if self._mariadb:
            domain, _, seq = gtid.split("-")
            have = self._domains.get(int(domain))
            return have is not None and int(seq) <= int(have.rsplit("-", 1)[1])
        return Gtid(gtid) in self._set

    def covers(self, other: GtidPosition) -> bool:
        """Every transaction at or before ``other`` is at or before this position."""
        if self._mariadb:
            return all(self.contains(g) for g in other._domains.values())
        return all(g in self._set for g in other._set.gtids)

    def meet(self, other: GtidPosition) -> str:
        """The newest position at or before both: a stream from it serves both."""
        if self._mariadb:
            common = self._domains.keys() & other._domains.keys()
            return ",".join(
                min(self._domains[d], other._domains[d], key=lambda g: int(g.rsplit("-", 1)[1]))
                for d in sorted(common)
            )
        mine = {g.sid: g.intervals for g in self._set.gtids}
        parts = []
        for theirs in other._set.gtids:
            both = _intersect(mine.get(theirs.sid, []), theirs.intervals)
            if both:
                spans = ":".join(f"{a}-{b - 1}" if b - 1 > a else str(a) for a, b in both)
                parts.append(f"{theirs.sid}:{spans}")
        return ",".join(parts)

    @property
    def resume(self) -> str:
        if self._mariadb:
            return ",".join(self._domains[d] for d in sorted(self._domains))
        return str(self._set)


def _intersect(ours: list[tuple[int, int]], theirs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Intersection of two lists of half-open GTID intervals [start, end)."""
    out = []
    for a, b in ours:
        for c, d in theirs:
            low, high = max(a, c), min(b, d)
            if low < high:
                out.append((low, high))
    return sorted(out)
