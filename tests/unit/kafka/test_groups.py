"""A group's lag on a partition: from its committed offset, or the oldest kept message."""

from __future__ import annotations

from streamhub.kafka.groups import PartitionLag


def test_lag_counts_from_the_committed_offset() -> None:
    lag = PartitionLag("cdc.raw.his", 0, committed=40, low=0, high=100)
    assert lag.has_commit
    assert lag.next_offset == 40
    assert lag.behind == 60


def test_a_group_without_commit_is_behind_by_every_kept_message() -> None:
    lag = PartitionLag("cdc.raw.his", 0, committed=-1001, low=30, high=100)
    assert not lag.has_commit
    assert lag.next_offset == 30
    assert lag.behind == 70


def test_a_commit_removed_by_retention_counts_from_the_oldest_kept_message() -> None:
    assert PartitionLag("cdc.raw.his", 1, committed=10, low=30, high=100).behind == 70


def test_a_group_at_or_past_the_end_is_not_behind() -> None:
    assert PartitionLag("t", 0, committed=100, low=0, high=100).behind == 0
    # the watermark read a moment before the commit: never negative
    assert PartitionLag("t", 0, committed=105, low=0, high=100).behind == 0
