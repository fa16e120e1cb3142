"""Campaign statistics and the Leveugle sample size, by hand."""

from __future__ import annotations

import math

import pytest

from spikeloom.errors import ConfigError
from spikeloom.faults import leveugle_sample_size, mean_std_ci95, t_for_confidence


def test_leveugle_by_hand():
    # N -> infinity: t^2 p (1-p) / e^2 = 2.58^2 * 0.25 / 0.0001 = 16641
    assert leveugle_sample_size(math.inf, 0.01, 2.58, 0.5) == 16641
    # N = 10,000: 10000 / (1 + 9999 / 16641) = 10000 / 1.6008653 = 6246.6 -> 6247
    assert leveugle_sample_size(10_000, 0.01, 2.58, 0.5) == 6247
    # N = 100, e = 0.05, t = 1.96: 100 / (1 + 99 / 384.16) = 79.51 -> 80
    assert leveugle_sample_size(100, 0.05, 1.96) == 80
    assert leveugle_sample_size(1, 0.01) == 1


def test_t_for_confidence():
    assert t_for_confidence(0.95) == pytest.approx(1.959964, abs=1e-5)
    assert t_for_confidence(0.99) == pytest.approx(2.575829, abs=1e-5)
    with pytest.raises(ConfigError):
        t_for_confidence(1.0)
    with pytest.raises(ConfigError):
        leveugle_sample_size(100, margin=0.0)


def test_mean_std_ci_by_hand():
    mean, std, (lo, hi) = mean_std_ci95([0.8, 0.9, 1.0])
    assert mean == pytest.approx(0.9) and std == pytest.approx(0.1)
    half = 4.302652729911275 * 0.1 / math.sqrt(3)  # t(0.975, 2 dof)
    assert (lo, hi) == pytest.approx((0.9 - half, 0.9 + half))
    assert mean_std_ci95([0.5]) == (0.5, 0.0, (0.5, 0.5))
