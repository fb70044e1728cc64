import pytest

from streamhub.capture.delivery import AckTracker
from streamhub.capture.errors import DeliveryFailedError


def test_a_checkpoint_is_safe_only_when_everything_before_it_is_acknowledged():
    tracker = AckTracker()
    first = [tracker.next_number() for _ in range(3)]
    tracker.checkpoint({"resume": "A"})
    second = [tracker.next_number() for _ in range(2)]
    tracker.checkpoint({"resume": "B"})
    tracker.acknowledged(second[0])
    tracker.acknowledged(first[2])
    tracker.acknowledged(first[0])
    assert tracker.safe() is None  # message 2 is still out
    tracker.acknowledged(first[1])
    assert tracker.safe() == {"resume": "A"}
    assert tracker.safe() is None
    tracker.acknowledged(second[1])
    assert tracker.safe() == {"resume": "B"}
    assert tracker.pending == 0


def test_only_the_newest_safe_checkpoint_is_returned():
    tracker = AckTracker()
    for name in "XYZ":
        tracker.acknowledged(tracker.next_number())
        tracker.checkpoint({"resume": name})
    assert tracker.safe() == {"resume": "Z"}


def test_a_failed_delivery_stops_the_connector():
    tracker = AckTracker()
    number = tracker.next_number()
    tracker.checkpoint({"resume": "A"})
    tracker.acknowledged(number, error="broker down")
    with pytest.raises(DeliveryFailedError, match="broker down"):
        tracker.safe()


def test_the_tracker_covers_a_number_once_everything_up_to_it_is_acknowledged():
    tracker = AckTracker()
    first, second = tracker.next_number(), tracker.next_number()
    tracker.acknowledged(second)
    assert not tracker.covers(second)
    tracker.acknowledged(first)
    assert tracker.covers(second)
