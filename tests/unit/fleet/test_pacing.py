from __future__ import annotations

import pytest

from streamhub.fleet.errors import FleetOptionsError
from streamhub.fleet.pacing import Pacing


def test_a_day_plays_in_day_minutes() -> None:
    assert Pacing(day_minutes=20).compression == 72.0
    assert Pacing(day_minutes=1440).compression == 1.0


def test_the_peak_rate_is_reached_at_the_curves_peak_and_the_mean_is_below() -> None:
    pacing = Pacing(day_minutes=20, peak_rate=1500)
    rates = [pacing.rate_at_hour(h / 10) for h in range(240)]
    assert max(rates) == pytest.approx(1500, rel=1e-6)
    assert pacing.rate_at_hour(9.0) == pytest.approx(1500, rel=1e-6)  # the morning peak
    assert pacing.rate_at_hour(3.0) < 150  # the night
    assert sum(rates) / len(rates) == pytest.approx(pacing.mean_rate, rel=0.02)
    assert pacing.mean_rate < 1500


def test_institutions_share_the_mean_by_weight_and_flat_is_constant() -> None:
    pacing = Pacing(peak_rate=1000)
    weights = [4.0, 1.5, 0.25, 0.25]
    shares = [pacing.share(w, sum(weights)) for w in weights]
    assert sum(shares) == pytest.approx(pacing.mean_rate)
    assert shares[0] == pytest.approx(16 * shares[2])
    flat = Pacing(peak_rate=1000, flat=True)
    assert flat.rate_at_hour(3) == flat.rate_at_hour(9) == pytest.approx(1000)


def test_rates_must_be_positive() -> None:
    with pytest.raises(FleetOptionsError, match="peak-rate"):
        Pacing(peak_rate=0)
