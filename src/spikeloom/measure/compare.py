"""Comparisons that say how sure they are: an SNN against its ANN on the same samples
(accuracy: paired per-sample correctness, McNemar) and the same fault masks (reliability:
paired per-trial differences). Each comparison is 'better', 'worse' or 'not distinguishable'.

Verdict rule, for a difference d = SNN - ANN with two-sided confidence interval [lo, hi]:
  better               lo > 0
  worse                hi < -margin
  not distinguishable  otherwise (the data cannot tell them apart at this confidence)
A selection step rejects only what is 'worse'. The paper's strict rule (SNN >= ANN -
tolerance on the point estimates; verdicts 'better', 'within tolerance', 'worse') stays
available as `rule='strict'`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from statistics import NormalDist

from spikeloom.errors import ConfigError
from spikeloom.spec import Spec

RULES = ("stat", "strict")
VERDICTS = ("better", "worse", "not distinguishable", "within tolerance")


@dataclass(frozen=True)
class Comparison(Spec):
    """SNN minus ANN on one criterion. diff and ci in the criterion's units (accuracy as a
    fraction, reliability in percentage points); p_value two-sided (McNemar exact for
    accuracy, paired t for reliability; None when undefined)."""

    criterion: str
    rule: str
    diff: float
    ci: tuple[float, float]
    margin: float
    confidence: float
    verdict: str
    p_value: float | None = None
    n: int = 0

    @property
    def passes(self) -> bool:
        """Whether a selection step keeps the SNN on this criterion."""
        return self.verdict != "worse"


def check_confidence(confidence: float) -> float:
    if not 0.5 <= confidence < 1.0:
        raise ConfigError(f"confidence must be in [0.5, 1), e.g. 0.95, got {confidence}")
    return float(confidence)


def _verdict(lo: float, hi: float, margin: float) -> str:
    if lo > 0:
        return "better"
    if hi < -margin:
        return "worse"
    return "not distinguishable"


def mcnemar_p(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value for b and c discordant pairs (binomial, p = 1/2)."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    # exact integer ratio: 2.0 ** n overflows a float beyond n = 1023 discordant pairs
    tail = Fraction(sum(math.comb(n, i) for i in range(k + 1)), 2**n)
    return min(1.0, float(2 * tail))


def compare_accuracy(snn_correct: Sequence[bool], ann_correct: Sequence[bool], margin: float = 0.0,
                     confidence: float = 0.95) -> Comparison:
    """Paired comparison of two classifiers on the same samples (bool per sample).

    d = (b - c) / n with b = SNN right & ANN wrong, c = SNN wrong & ANN right; Wald interval
    with the paired variance (b + c - (b - c)^2 / n) / n^2."""
    check_confidence(confidence)
    if len(snn_correct) != len(ann_correct) or not len(snn_correct):
        raise ConfigError("a paired accuracy comparison needs the same non-empty samples for both models")
    n = len(snn_correct)
    b = sum(1 for s, a in zip(snn_correct, ann_correct) if s and not a)
    c = sum(1 for s, a in zip(snn_correct, ann_correct) if a and not s)
    d = (b - c) / n
    se = math.sqrt(max(0.0, (b + c) - (b - c) ** 2 / n)) / n
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    lo, hi = d - z * se, d + z * se
    return Comparison("accuracy", "stat", d, (lo, hi), margin, confidence, _verdict(lo, hi, margin),
                      mcnemar_p(b, c), n)


def compare_paired(criterion: str, snn: Sequence[float], ann: Sequence[float], margin: float = 0.0,
                   confidence: float = 0.95) -> Comparison:
    """Paired comparison of per-trial values (same fault masks for both): mean difference with
    a Student-t interval; one trial gives an unbounded interval."""
    from scipy import stats  # noqa: PLC0415

    check_confidence(confidence)
    if len(snn) != len(ann) or not len(snn):
        raise ConfigError(f"a paired {criterion} comparison needs the same trials for both models")
    diffs = [s - a for s, a in zip(snn, ann)]
    n = len(diffs)
    d = sum(diffs) / n
    if n < 2:
        return Comparison(criterion, "stat", d, (-math.inf, math.inf), margin, confidence,
                          "not distinguishable", None, n)
    sd = math.sqrt(sum((v - d) ** 2 for v in diffs) / (n - 1))
    if sd == 0:
        lo = hi = d
        p = 1.0 if d == 0 else 0.0
    else:
        t = float(stats.t.ppf(0.5 + confidence / 2, n - 1))
        lo, hi = d - t * sd / math.sqrt(n), d + t * sd / math.sqrt(n)
        p = float(2 * stats.t.sf(abs(d) / (sd / math.sqrt(n)), n - 1))
    return Comparison(criterion, "stat", d, (lo, hi), margin, confidence, _verdict(lo, hi, margin), p, n)


def compare_strict(criterion: str, snn: float, ann: float, tolerance: float = 0.0) -> Comparison:
    """The paper's rule on point estimates: keep the SNN when snn >= ann - tolerance."""
    d = snn - ann
    verdict = "better" if d > 0 else ("worse" if d < -tolerance else "within tolerance")
    return Comparison(criterion, "strict", d, (d, d), tolerance, 1.0, verdict, None, 0)
