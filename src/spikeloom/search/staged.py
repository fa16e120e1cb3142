"""Algorithm 1: reliability-aware staged search of SNN configurations against an ANN.

STEP 0  train + quantize the ANN; measure accuracy, energy and reliability.
STEP 1  for each (timesteps, threshold): train + quantize the SNN, measure accuracy and
        energy; only when accuracy >= ANN accuracy - tolerance run the fault campaign;
        keep it in candidate_list1 when its reliability >= the ANN's.
STEP 2  keep in candidate_list2 the candidates whose energy is below the ANN's; the
        lowest-energy one is `best`. An empty candidate_list2 is a FAIL, with a widened
        grid proposed (and, with expand, run).

Stages a config can stop at: 'accuracy', 'reliability', 'energy'; the ones that pass all
three are 'candidate', and the chosen one 'selected'.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spikeloom.data.registry import Dataset
from spikeloom.search.config import SearchConfig, config_name
from spikeloom.search.measure import Measurement, Measurer
from spikeloom.search.pareto import pareto_front
from spikeloom.spec import ModelConfig


@dataclass(frozen=True)
class SearchResult:
    """Outcome of a staged search. Lists hold `Measurement`s in grid order."""

    config: SearchConfig
    ann: Measurement
    configs: tuple[Measurement, ...]
    candidate_list1: tuple[Measurement, ...]
    candidate_list2: tuple[Measurement, ...]
    best: Measurement | None
    proposal: dict[str, list[float]] | None
    seconds: float
    expanded: bool = False
    pareto: tuple[str, ...] = field(default_factory=tuple)

    @property
    def verdict(self) -> str:
        return "PASS" if self.best is not None else "FAIL"

    def to_dict(self) -> dict[str, Any]:
        ann = self.ann
        return {
            "verdict": self.verdict,
            "ann": {**ann.row(), "energy_pj": ann.energy_pj, "campaign": ann.campaign,
                    "energy": ann.energy},
            "configs": [m.row() for m in self.configs],
            "candidate_list1": [m.row() for m in self.candidate_list1],
            "candidate_list2": [m.row() for m in self.candidate_list2],
            "best": self.best.row() if self.best else None,
            "pareto": list(self.pareto),
            "proposal": self.proposal,
            "expanded": self.expanded,
            "campaigns": {m.name: m.campaign for m in (ann, *self.configs) if m.campaign},
            "energy": {m.name: m.energy for m in (ann, *self.configs)},
            "search_config": self.config.to_dict(),
            "search_seconds": self.seconds,
        }


def widened_grid(scfg: SearchConfig) -> dict[str, list[float]]:
    """A larger grid to try after a FAIL: longer and shorter windows, lower and higher
    thresholds (accuracy failures need more time / lower theta, energy failures the reverse)."""
    ts = sorted({*scfg.timesteps, max(1, min(scfg.timesteps) // 2), 2 * max(scfg.timesteps)})
    ths = sorted({*scfg.thresholds, round(min(scfg.thresholds) / 2, 6),
                  round(max(scfg.thresholds) * 1.5, 6)})
    return {"timesteps": ts, "thresholds": ths}


def snn_config(scfg: SearchConfig, timesteps: int, threshold: float) -> ModelConfig:
    return ModelConfig(arch="snn", topology=scfg.topology, timesteps=timesteps,
                       threshold=threshold, beta=scfg.beta)


def staged_search(scfg: SearchConfig, data: Dataset, out: Path, expand: bool = False,
                  progress: bool = False, log: Callable[[str], None] = lambda _s: None
                  ) -> SearchResult:
    """Run Algorithm 1 on `data`, keeping models and results under `out` (resumable)."""
    start = time.perf_counter()
    measurer = Measurer(scfg, data, out, progress, log)
    # STEP 0: the reference ANN, always with its fault campaign.
    ann = measurer.measure("ann", ModelConfig(arch="ann", topology=scfg.topology), campaign=True)
    log(f"ANN: accuracy {ann.accuracy:.4f}, reliability {ann.reliability_pct:.2f} %, "
        f"energy {ann.energy_pj:.1f} pJ")

    def run_grid(grid: list[tuple[int, float]]) -> list[Measurement]:
        done = []
        for timesteps, threshold in grid:
            name = config_name(timesteps, threshold)
            # STEP 1, cheap checks first: accuracy (and energy, measured with it).
            m = measurer.measure(name, snn_config(scfg, timesteps, threshold), campaign=False)
            if m.accuracy >= ann.accuracy - scfg.tolerance:
                m = measurer.with_campaign(m)
            done.append(m)
            rel = "not measured" if m.reliability_pct is None else f"{m.reliability_pct:.2f} %"
            log(f"{name}: accuracy {m.accuracy:.4f}, reliability {rel}, energy {m.energy_pj:.1f} pJ")
        return done

    measured = run_grid(scfg.grid)
    result = select(scfg, ann, measured, start)
    if result.best is None and expand:
        proposal = result.proposal or widened_grid(scfg)
        wide = scfg.replace(timesteps=tuple(int(t) for t in proposal["timesteps"]),
                            thresholds=tuple(proposal["thresholds"]))
        log(f"FAIL: expanding the grid to T {wide.timesteps} x theta {wide.thresholds}")
        measured = run_grid(wide.grid)
        result = select(wide, ann, measured, start, expanded=True)
    return result


def _stage(scfg: SearchConfig, ann: Measurement, m: Measurement) -> str:
    if m.accuracy < ann.accuracy - scfg.tolerance:
        return "accuracy"
    if m.reliability_pct is None or ann.reliability_pct is None or m.reliability_pct < ann.reliability_pct:
        return "reliability"
    if not m.energy_pj < ann.energy_pj:
        return "energy"
    return "candidate"


def select(scfg: SearchConfig, ann: Measurement, measured: list[Measurement], start: float,
            expanded: bool = False) -> SearchResult:
    """STEPS 1-2 bookkeeping: assign stages, build the candidate lists, pick the best."""
    staged = [m.replace(stage=_stage(scfg, ann, m)) for m in measured]
    candidates = sorted((m for m in staged if m.stage == "candidate"), key=lambda m: m.energy_pj)
    best_name = candidates[0].name if candidates else None
    staged = [m.replace(stage="selected") if m.name == best_name else m for m in staged]
    list1 = [m for m in staged if m.stage in ("energy", "candidate", "selected")]
    list2 = sorted((m for m in list1 if m.stage != "energy"), key=lambda m: m.energy_pj)
    best = list2[0] if list2 else None
    if scfg.lowest_energy_only:
        list2 = list2[:1]
    front = pareto_front([(m.name, m.accuracy, m.reliability_pct, m.energy_pj) for m in (ann, *staged)])
    return SearchResult(scfg, ann, tuple(staged), tuple(list1), tuple(list2), best,
                        None if best is not None else widened_grid(scfg),
                        time.perf_counter() - start, expanded, tuple(front))
