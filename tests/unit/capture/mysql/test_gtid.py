"""GTID positions as a shared server stream compares them (per connector skip, common start)."""

from __future__ import annotations

from streamhub.capture.mysql.gtid import GtidPosition

UUID = "3e11fa47-71ca-11e1-9e33-c80aa9429562"


def test_mariadb_positions_contain_by_domain_and_meet_at_the_older_per_domain() -> None:
    mine, theirs = GtidPosition("0-1-5,1-2-9", True), GtidPosition("0-1-7,2-1-3", True)
    assert mine.contains("0-1-5") and mine.contains("0-2-4")
    assert not mine.contains("0-1-6") and not mine.contains("2-1-1")
    assert mine.meet(theirs) == "0-1-5"  # domains 1 and 2: not in both, read from the start
    assert GtidPosition("0-1-8", True).covers(GtidPosition("0-1-7", True))
    assert not GtidPosition("0-1-7", True).covers(GtidPosition("0-1-8", True))
    assert not mine.covers(theirs)


def test_mysql_positions_meet_at_the_intersection_of_their_sets() -> None:
    mine, theirs = GtidPosition(f"{UUID}:1-10", False), GtidPosition(f"{UUID}:1-5:7-12", False)
    assert mine.meet(theirs) == f"{UUID}:1-5:7-10"
    assert mine.contains(f"{UUID}:4") and not theirs.contains(f"{UUID}:6")
    assert not theirs.covers(mine) and GtidPosition(f"{UUID}:1-12", False).covers(theirs)
