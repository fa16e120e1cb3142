"""Evaluation fidelity: full training, low fidelity (fewer epochs, a data subset, fewer
timesteps) or the training-free SAHD proxy, with promotion of the best cheap candidates to
full fidelity; and the validation of every cheap evaluator by rank correlation."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from spikeloom.errors import ConfigError
from spikeloom.spec import Spec

FIDELITIES = ("full", "low", "proxy")


@dataclass(frozen=True)
class FidelityConfig(Spec):
    """kind: full | low | proxy. Low fidelity trains `low_epochs` epochs (default a quarter,
    at least 1) on the first `low_subset` samples with timesteps x `timesteps_factor`.
    promote: cheap candidates re-evaluated at full fidelity (best first); validate: extra
    randomly chosen ones, so that the rank correlation is not measured on the top only."""

    kind: str = "full"
    low_epochs: int | None = None
    low_subset: int | None = None
    timesteps_factor: float = 0.5
    promote: int = 5
    validate: int = 3

    def __post_init__(self) -> None:
        if self.kind not in FIDELITIES:
            raise ConfigError(f"unknown fidelity {self.kind!r}; choose one of {', '.join(FIDELITIES)}")
        if not 0.0 < self.timesteps_factor <= 1.0:
            raise ConfigError(f"timesteps factor must be in (0, 1], got {self.timesteps_factor}")
        if self.promote < 1 or self.validate < 0:
            raise ConfigError("promote must be >= 1 and validate >= 0")

    def low_overrides(self, epochs: int, train_subset: int | None = None) -> dict[str, Any]:
        """Low-fidelity training settings given the full ones (the subset defaults to the
        full-fidelity subset, so low fidelity never sees more data than full)."""
        subset = self.low_subset if self.low_subset is not None else train_subset
        if self.low_subset is not None and train_subset is not None:
            subset = min(self.low_subset, train_subset)
        return {"epochs": self.low_epochs if self.low_epochs is not None else max(1, epochs // 4),
                "train_subset": subset, "timesteps_factor": self.timesteps_factor}


def rank_correlation(cheap: Sequence[float | None], full: Sequence[float | None]) -> dict[str, Any]:
    """Kendall tau and Spearman rho of two score lists (scipy), with p-values and n. Pairs
    with a missing or non-finite value (e.g. a singular SAHD kernel) are left out; fewer than
    3 pairs or a constant list gives None values."""
    from scipy.stats import kendalltau, spearmanr  # noqa: PLC0415

    pairs = [(float(a), float(b)) for a, b in zip(cheap, full)
             if a is not None and b is not None and math.isfinite(a) and math.isfinite(b)]
    out: dict[str, Any] = {"n": len(pairs), "kendall_tau": None, "kendall_p": None,
                           "spearman": None, "spearman_p": None}
    if len(pairs) < 3 or len({a for a, _ in pairs}) < 2 or len({b for _, b in pairs}) < 2:
        return out
    a, b = zip(*pairs)
    tau = kendalltau(a, b)
    rho = spearmanr(a, b)
    out.update(kendall_tau=float(tau.statistic), kendall_p=float(tau.pvalue),
               spearman=float(rho.statistic), spearman_p=float(rho.pvalue))
    return out


def promotion(ranks: Sequence[int], scores: Sequence[float], promote: int, validate: int,
              seed: int = 0) -> list[int]:
    """Indices to re-evaluate at full fidelity: the `promote` best by (Pareto rank, -score),
    then `validate` others drawn at random (seeded), best first."""
    order = sorted(range(len(ranks)), key=lambda i: (ranks[i], -_finite(scores[i]), i))
    top = order[:promote]
    rest = order[promote:]
    extra = random.Random(seed).sample(rest, min(validate, len(rest)))
    return top + sorted(extra, key=order.index)


def _finite(v: float) -> float:
    return v if math.isfinite(v) else -math.inf


def pareto_ranks(points: Sequence[Sequence[float]]) -> list[int]:
    """Non-dominated sorting of minimisation-form points: 0 = first front, 1 = next, ..."""
    from spikeloom.search.nas.hypervolume import non_dominated  # noqa: PLC0415

    ranks = [-1] * len(points)
    left = list(range(len(points)))
    level = 0
    while left:
        sub = [points[i] for i in left]
        front_local = set(non_dominated(sub))
        # duplicates of a front point belong to the same front
        front_pts = {tuple(sub[k]) for k in front_local}
        front = [i for i in left if tuple(points[i]) in front_pts]
        for i in front:
            ranks[i] = level
        left = [i for i in left if ranks[i] < 0]
        level += 1
    return ranks
