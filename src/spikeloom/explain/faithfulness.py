"""Is an attribution faithful? Deletion and insertion curves (Petsiuk et al. 2018, RISE).

Deletion removes the input units an attribution ranks highest first and follows the model's
score for the target class: a faithful ranking makes it fall fast (low area under the
curve). Insertion starts from the empty input and adds units in the same order: a faithful
ranking makes it rise fast (high area). A random ordering is the yardstick.

Units are pixels (a pixel's value, or all its input spikes over time, set to the baseline 0)
or time bins (one input element [t, d] of an input train). Only *active* units, those that
differ from the baseline, are ranked: removing a silent pixel changes nothing, so counting
them would only stretch every curve. The x axis is the fraction of active units removed or
inserted, in [0, 1]; the score is the softmax probability of the target (`score="prob"`) or
the target logit (`score="logit"`); the area is the trapezoid rule over that axis.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from spikeloom.errors import ConfigError

UNITS = ("pixel", "bin")
SCORES = ("prob", "logit")


@dataclass(frozen=True)
class Curve:
    """fractions [K+1] in [0, 1]; scores [K+1] (probability or logit); auc: trapezoid area."""

    fractions: tuple[float, ...]
    scores: tuple[float, ...]
    auc: float


@dataclass(frozen=True)
class Faithfulness:
    """Deletion and insertion curves of one ranking (a method, or 'random' averaged)."""

    method: str
    deletion: Curve
    insertion: Curve

    def to_dict(self) -> dict[str, object]:
        return {"deletion_auc": self.deletion.auc, "insertion_auc": self.insertion.auc,
                "fractions": list(self.deletion.fractions),
                "deletion": list(self.deletion.scores), "insertion": list(self.insertion.scores)}


def trapezoid_auc(fractions: torch.Tensor, scores: torch.Tensor) -> float:
    return float(torch.trapezoid(scores.double(), fractions.double()))


def unit_view(sample: torch.Tensor, unit: str) -> tuple[int, Callable[[torch.Tensor], torch.Tensor]]:
    """(number of units, expand): expand maps unit masks [K, U] to sample masks [K, *sample]."""
    if unit not in UNITS:
        raise ConfigError(f"unknown deletion unit {unit!r}; choose one of {', '.join(UNITS)}")
    if unit == "pixel":
        features = sample.shape[-1]
        return features, lambda m: m.reshape(len(m), *([1] * (sample.dim() - 1)), features)
    if sample.dim() < 2:
        raise ConfigError("time-bin deletion needs an input train [T, D]; "
                          "an ANN input has no time bins, use unit 'pixel'")
    return sample.numel(), lambda m: m.reshape(len(m), *sample.shape)


def unit_scores(attribution: torch.Tensor, sample: torch.Tensor, unit: str) -> torch.Tensor:
    """One score per unit [U]: attributions summed over time for pixels, as-is for bins."""
    if unit == "pixel":
        pixels = attribution.shape[-1]
        return attribution.reshape(-1, pixels).sum(0) if attribution.numel() != pixels \
            else attribution.reshape(pixels)
    if attribution.shape != sample.shape:
        raise ConfigError("time-bin deletion needs a temporal attribution [T, D]; "
                          "pixel-only methods (occlusion) support unit 'pixel' only")
    return attribution.reshape(-1)


def _active(sample: torch.Tensor, baseline: float, unit: str) -> torch.Tensor:
    diff = (sample != baseline)
    return diff.reshape(-1, sample.shape[-1]).any(0) if unit == "pixel" else diff.reshape(-1)


def _masks(order: torch.Tensor, units: int, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Cumulative masks [steps+1, U] removing the first round(k/steps * len(order)) units."""
    fractions = torch.linspace(0, 1, steps + 1, dtype=torch.float64)
    counts = torch.round(fractions * len(order)).long()
    rank = torch.full((units,), len(order) + 1, dtype=torch.long, device=order.device)
    rank[order] = torch.arange(len(order), device=order.device)
    masks = (rank[None, :] < counts.to(order.device)[:, None]).float()
    return fractions, masks


@torch.no_grad()
def curves(forward: Callable[[torch.Tensor], torch.Tensor], sample: torch.Tensor, target: int,
           order: torch.Tensor, unit: str = "pixel", steps: int = 20, score: str = "prob",
           baseline: float = 0.0, method: str = "") -> Faithfulness:
    """Deletion and insertion curves of one sample for one ranking.

    forward: batch of samples [K, *sample] -> logits [K, C]. order: unit indices [U_active],
    most important first (see `ranking`).
    """
    if score not in SCORES:
        raise ConfigError(f"unknown faithfulness score {score!r}; choose one of {', '.join(SCORES)}")
    if steps < 1:
        raise ConfigError(f"deletion curves need at least 1 step, got {steps}")
    units, expand = unit_view(sample, unit)
    fractions, removed = _masks(order, units, steps)
    removed = expand(removed.to(sample.dtype))
    base = torch.full_like(sample, baseline)
    deleted = sample[None] * (1 - removed) + base[None] * removed
    inserted = base[None] * (1 - removed) + sample[None] * removed
    logits = forward(torch.cat([deleted, inserted]))
    values = logits.softmax(1)[:, target] if score == "prob" else logits[:, target]
    values = values.double().cpu()
    dele, ins = values[:steps + 1], values[steps + 1:]
    return Faithfulness(method, Curve(tuple(fractions.tolist()), tuple(dele.tolist()),
                                      trapezoid_auc(fractions, dele)),
                        Curve(tuple(fractions.tolist()), tuple(ins.tolist()),
                              trapezoid_auc(fractions, ins)))


def ranking(attribution: torch.Tensor, sample: torch.Tensor, unit: str = "pixel",
            baseline: float = 0.0) -> torch.Tensor:
    """Active unit indices, highest attribution first (ties: lower index first)."""
    scores = unit_scores(attribution, sample, unit)
    active = torch.nonzero(_active(sample, baseline, unit)).flatten()
    order = torch.sort(scores[active], descending=True, stable=True).indices
    return active[order]


def random_ranking(sample: torch.Tensor, generator: torch.Generator, unit: str = "pixel",
                   baseline: float = 0.0) -> torch.Tensor:
    active = torch.nonzero(_active(sample, baseline, unit)).flatten()
    return active[torch.randperm(len(active), generator=generator).to(active.device)]


def mean_faithfulness(method: str, runs: list[Faithfulness]) -> Faithfulness:
    """Pointwise mean of curves (over samples or random orderings); its AUC is the mean AUC."""
    def mean(curves_: list[Curve]) -> Curve:
        scores = torch.tensor([c.scores for c in curves_], dtype=torch.float64).mean(0)
        fractions = torch.tensor(curves_[0].fractions, dtype=torch.float64)
        return Curve(curves_[0].fractions, tuple(scores.tolist()), trapezoid_auc(fractions, scores))
    return Faithfulness(method, mean([r.deletion for r in runs]), mean([r.insertion for r in runs]))


def random_baseline(forward: Callable[[torch.Tensor], torch.Tensor], sample: torch.Tensor,
                    target: int, unit: str = "pixel", steps: int = 20, score: str = "prob",
                    repeats: int = 5, seed: int = 0, baseline: float = 0.0) -> Faithfulness:
    """Curves of `repeats` random orderings of the active units (seeded), averaged."""
    gen = torch.Generator().manual_seed(int(seed))
    runs = [curves(forward, sample, target, random_ranking(sample, gen, unit, baseline),
                   unit, steps, score, baseline) for _ in range(max(1, repeats))]
    return mean_faithfulness("random", runs)
