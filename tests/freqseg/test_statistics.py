import numpy as np
import pytest

from freqseg.statistics import bootstrap_interval, seed_spread


def test_bootstrap_interval_covers_the_mean_and_shrinks_with_more_slices():
    rng = np.random.default_rng(0)
    few, many = rng.normal(0.8, 0.1, 10), rng.normal(0.8, 0.1, 400)
    low, high = bootstrap_interval(lambda idx: np.array([few[idx].mean()]), len(few))
    assert low[0] < few.mean() < high[0]
    wide = high[0] - low[0]
    assert 0.05 < wide < 0.2  # about 2 x 1.96 x 0.1 / sqrt(10) = 0.12
    low, high = bootstrap_interval(lambda idx: np.array([many[idx].mean()]), len(many))
    assert high[0] - low[0] < wide / 4


def test_bootstrap_interval_is_nan_where_every_redraw_is():
    low, high = bootstrap_interval(lambda idx: np.array([np.nan, 1.0]), 5, rounds=50)
    assert np.isnan(low[0]) and np.isnan(high[0]) and low[1] == high[1] == 1.0
    with pytest.raises(ValueError, match="at least one"):
        bootstrap_interval(lambda idx: np.array([1.0]), 0)


def test_seed_spread():
    assert seed_spread([0.5, 0.7, 0.9]) == pytest.approx((0.7, 0.2))
    assert seed_spread([0.5]) == (0.5, 0.0)
    assert np.isnan(seed_spread([np.nan])[0])
