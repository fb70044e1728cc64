"""Metric names carry their stage and unit; labels stay bounded."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from streamhub.core.errors import MetricNameError
from streamhub.core.metrics import MetricNamer


def test_names_carry_stage_and_unit() -> None:
    registry = CollectorRegistry()
    namer = MetricNamer("land", registry)
    namer.counter("rows_total", "Rows landed.", ("entity",)).labels("charge").inc(3)
    namer.gauge("lag_messages", "Messages behind.").set(5)
    assert registry.get_sample_value("streamhub_land_rows_total", {"entity": "charge"}) == 3
    assert registry.get_sample_value("streamhub_land_lag_messages") == 5


@pytest.mark.parametrize(
    ("what", "counter", "labels"),
    [("rows", True, ()), ("lag", False, ()), ("Rows_total", True, ()), ("x_total", True, ("key",))],
)
def test_a_name_without_unit_or_an_unbounded_label_is_refused(
    what: str, counter: bool, labels: tuple[str, ...]
) -> None:
    namer = MetricNamer("capture", CollectorRegistry())
    with pytest.raises(MetricNameError):
        if counter:
            namer.counter(what, "doc", labels)
        else:
            namer.gauge(what, "doc", labels)


def test_an_unknown_stage_is_refused() -> None:
    with pytest.raises(MetricNameError, match="unknown stage"):
        MetricNamer("sink", CollectorRegistry())
