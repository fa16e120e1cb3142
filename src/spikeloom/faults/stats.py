"""Campaign statistics: per-scope summaries and the Leveugle et al. (DATE 2009) sample size."""

from __future__ import annotations

import math
from statistics import NormalDist

from spikeloom.errors import ConfigError


def t_for_confidence(confidence: float) -> float:
    """Two-sided normal cut-off t for a confidence level (0.99 -> 2.5758, 0.95 -> 1.96)."""
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must be in (0, 1), e.g. 0.99, got {confidence}")
    return NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)


def leveugle_sample_size(population: float, margin: float = 0.01, t: float = 2.58,
                         p: float = 0.5) -> int:
    """Faults to inject for error margin `margin` at cut-off `t` (Leveugle et al., DATE 2009).

    n = N / (1 + e^2 (N - 1) / (t^2 p (1 - p))), rounded up; N = population of possible faults
    (math.inf allowed: n = t^2 p (1 - p) / e^2, 16641 for e=0.01, t=2.58, p=0.5).
    """
    if not population >= 1:
        raise ConfigError(f"fault population must be >= 1, got {population}")
    if not 0.0 < margin < 1.0:
        raise ConfigError(f"error margin must be in (0, 1), e.g. 0.01, got {margin}")
    if not 0.0 < p < 1.0 or not t > 0:
        raise ConfigError(f"need 0 < p < 1 and t > 0, got p={p}, t={t}")
    base = t * t * p * (1.0 - p) / (margin * margin)
    if math.isinf(population):
        n = base
    else:
        n = population / (1.0 + (population - 1.0) / base)
    return max(1, math.ceil(n - 1e-9))


def mean_std_ci95(values: list[float]) -> tuple[float, float, tuple[float, float]]:
    """Mean, sample standard deviation (ddof=1; 0 for one value) and the 95% Student-t
    confidence interval of the mean [low, high]."""
    n = len(values)
    if n == 0:
        nan = float("nan")
        return nan, nan, (nan, nan)
    mean = sum(values) / n
    if n == 1:
        return mean, 0.0, (mean, mean)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    from scipy.stats import t as student_t  # noqa: PLC0415 - scipy comes with scikit-learn

    half = float(student_t.ppf(0.975, n - 1)) * std / math.sqrt(n)
    return mean, std, (mean - half, mean + half)
