"""Algorithm 1: reliability-aware staged search of SNN configurations against an ANN.

Every figure STEPS 0-2 read comes from the validation split carved from the training data
(`spikeloom.measure.validation_split`); the test split is read only in STEP 3, to report.

STEP 0  train + quantize the ANN; measure accuracy, energy and reliability.
STEP 1  for the starting SNN as it is, when there is one (`search.start`), then for each
        (timesteps, threshold) and each of `train_methods` (BPTT training, or conversion of
        the STEP 0 ANN: `search.candidates`): obtain + quantize the SNN, measure accuracy and
        energy; only when the SNN is not worse than the ANN in accuracy run the fault
        campaign; keep it in candidate_list1 when it is not worse in reliability.
        With levers (`SearchConfig.levers`), an accurate SNN also enters once per lever,
        its campaign run under the lever on the same masks and its energy charged the lever.
        'Not worse' is the decision rule's (`measure.compare`): 'stat' (default) drops an SNN
        only when a paired comparison shows it worse at the chosen confidence (McNemar on
        per-sample correctness; paired per-trial reliability on the same fault masks);
        'strict' is the paper's rule on point estimates (SNN >= ANN - tolerance).
STEP 2  keep in candidate_list2 the candidates whose energy is below the ANN's; the
        lowest-energy one is `best`. An empty candidate_list2 is a FAIL, with a widened
        grid proposed (and, with expand, run).
STEP 3  (`report_test`) measure the ANN and every SNN on the test split, the fault campaign
        for the ANN and the chosen SNN: reported next to the validation figures, never used
        to choose.

Stages a config can stop at: 'accuracy', 'reliability', 'energy'; the ones that pass all
three are 'candidate', and the chosen one 'selected'.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spikeloom.data.registry import Dataset
from spikeloom.measure.compare import Comparison, compare_accuracy, compare_paired, compare_strict
from spikeloom.measure.reliability import trial_reliabilities
from spikeloom.measure.splits import split_record, validation_split
from spikeloom.search.candidates import Measurement, Measurer, conversion_config
from spikeloom.search.config import SearchConfig, config_name
from spikeloom.search.pareto import pareto_front
from spikeloom.search.start import START, StartModel
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
    protocol: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return "PASS" if self.best is not None else "FAIL"

    def to_dict(self) -> dict[str, Any]:
        ann = self.ann
        return {
            "verdict": self.verdict,
            "ann": {**ann.row(), "campaign": ann.campaign, "energy": ann.energy},
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
            "train_methods": list(self.config.train_methods),
            **({"conversion": conversion_config().to_dict()} if "convert" in self.config.train_methods else {}),
            "search_seconds": self.seconds,
            "protocol": self.protocol,
            "decision": {"rule": self.config.rule, "confidence": self.config.confidence,
                         "margin": self.config.margin, "reliability_margin": self.config.reliability_margin,
                         "tolerance": self.config.tolerance},
        }


def widened_grid(scfg: SearchConfig) -> dict[str, list[float]]:
    """A larger grid to try after a FAIL: longer and shorter windows, lower and higher
    thresholds (accuracy failures need more time / lower theta, energy failures the reverse)."""
    ts = sorted({*scfg.timesteps, max(1, min(scfg.timesteps) // 2), 2 * max(scfg.timesteps)})
    ths = sorted({*scfg.thresholds, round(min(scfg.thresholds) / 2, 6),
                  round(max(scfg.thresholds) * 1.5, 6)})
    return {"timesteps": ts, "thresholds": ths}


def snn_config(scfg: SearchConfig, timesteps: int, threshold: float,
               start: StartModel | None = None, method: str = "bptt") -> ModelConfig:
    """The grid's SNN at (T, theta): the starting model's configuration when there is one;
    LIF with the search's beta (BPTT) or IF, beta = 1 (converted from the ANN)."""
    base = start.config if start else ModelConfig(arch="snn")
    return base.replace(topology=scfg.topology, timesteps=timesteps, threshold=threshold,
                        beta=1.0 if method == "convert" else scfg.beta)


def ann_config(scfg: SearchConfig, start: StartModel | None = None) -> ModelConfig:
    """The reference ANN: the search topology, with biases when the starting model has them."""
    return ModelConfig(arch="ann", topology=scfg.topology, bias=bool(start and start.config.bias))


def staged_search(scfg: SearchConfig, data: Dataset, out: Path, expand: bool = False,
                  progress: bool = False, log: Callable[[str], None] = lambda _s: None,
                  device: Any = None, executor: Any = None) -> SearchResult:
    """Run Algorithm 1 (STEPS 0-2) on the validation split of `data`, keeping models and
    results under `out` (resumable). Does not read the test split: see `report_test`."""
    start = time.perf_counter()
    selection = validation_split(data, scfg.val_fraction, scfg.seed)
    measurer = Measurer(scfg, selection, out, progress, log, device, executor)
    # STEP 0: the reference ANN, always with its fault campaign.
    ann = measurer.measure("ann", ann_config(scfg, measurer.start), campaign=True)
    log(f"ANN: validation accuracy {ann.accuracy:.4f}, reliability {ann.reliability_pct:.2f} %, "
        f"energy {ann.energy_pj:.1f} pJ")

    def candidates(name: str, cfg: ModelConfig, trained: str | None = None,
                   method: str = "bptt") -> list[Measurement]:
        # STEP 1, cheap checks first: accuracy (and energy, measured with it).
        m = measurer.measure(name, cfg, campaign=False, trained=trained, method=method)
        found = [m]
        if accuracy_comparison(scfg, ann, m).passes:
            found = [measurer.with_campaign(m)]
            found += [measurer.with_lever(found[0], lever) for lever in scfg.levers]
        for c in found:
            rel = "not measured" if c.reliability_pct is None else f"{c.reliability_pct:.2f} %"
            log(f"{c.name}: validation accuracy {c.accuracy:.4f}, reliability {rel}, energy {c.energy_pj:.1f} pJ")
        return found

    def run_grid(grid: list[tuple[int, float]]) -> list[Measurement]:
        return [c for method in scfg.train_methods for t, th in grid
                for c in candidates(config_name(t, th, method), snn_config(scfg, t, th, measurer.start, method),
                                    method=method)]

    begin = measurer.start
    first = candidates(START, begin.config, trained=begin.path) if begin else []
    protocol = split_record(selection, scfg.val_fraction, scfg.seed)
    measured = first + run_grid(scfg.grid)
    result = select(scfg, ann, measured, start, protocol=protocol)
    if result.best is None and expand:
        proposal = result.proposal or widened_grid(scfg)
        wide = scfg.replace(timesteps=tuple(int(t) for t in proposal["timesteps"]),
                            thresholds=tuple(proposal["thresholds"]))
        log(f"FAIL: expanding the grid to T {wide.timesteps} x theta {wide.thresholds}")
        measured = first + run_grid(wide.grid)
        result = select(wide, ann, measured, start, expanded=True, protocol=protocol)
    return result


def report_test(result: SearchResult, data: Dataset, out: Path, progress: bool = False,
                log: Callable[[str], None] = lambda _s: None, device: Any = None,
                executor: Any = None) -> SearchResult:
    """STEP 3: the test figures of every measured model (campaigns for the ANN and the chosen
    SNN), after selection; the choice does not change."""
    measurer = Measurer(result.config, validation_split(data, result.config.val_fraction, result.config.seed),
                        out, progress, log, device, executor)
    chosen = {result.ann.name, result.best.name if result.best else None}

    def tested(m: Measurement) -> Measurement:
        return measurer.report_test(m, data, campaign=m.name in chosen)

    ann = tested(result.ann)
    configs = tuple(tested(m) for m in result.configs)
    by_name = {m.name: m for m in configs}
    best = by_name[result.best.name] if result.best else None
    if ann.test and best is not None and best.test:
        log(f"test split: ANN accuracy {ann.test['accuracy']:.4f}, chosen {best.name} {best.test['accuracy']:.4f}")
    return dataclasses.replace(
        result, ann=ann, configs=configs,
        candidate_list1=tuple(by_name[m.name] for m in result.candidate_list1),
        candidate_list2=tuple(by_name[m.name] for m in result.candidate_list2), best=best)


def accuracy_comparison(scfg: SearchConfig, ann: Measurement, m: Measurement) -> Comparison:
    if scfg.rule == "strict":
        return compare_strict("accuracy", m.accuracy, ann.accuracy, scfg.tolerance)
    return compare_accuracy(m.correct_flags, ann.correct_flags, scfg.margin, scfg.confidence)


def reliability_comparison(scfg: SearchConfig, ann: Measurement, m: Measurement) -> Comparison | None:
    if m.reliability_pct is None or ann.reliability_pct is None:
        return None
    if scfg.rule == "strict":
        return compare_strict("reliability", m.reliability_pct, ann.reliability_pct)
    if m.campaign is None or ann.campaign is None:
        return None
    return compare_paired("reliability", trial_reliabilities(m.campaign, scfg.ber),
                          trial_reliabilities(ann.campaign, scfg.ber), scfg.reliability_margin,
                          scfg.confidence)


def _stage(scfg: SearchConfig, ann: Measurement, m: Measurement) -> tuple[str, dict[str, Any]]:
    acc = accuracy_comparison(scfg, ann, m)
    rel = reliability_comparison(scfg, ann, m)
    comparisons = {"accuracy": acc.to_dict(), "reliability": rel.to_dict() if rel else None}
    if not acc.passes:
        return "accuracy", comparisons
    if rel is None or not rel.passes:
        return "reliability", comparisons
    if not m.energy_pj < ann.energy_pj:
        return "energy", comparisons
    return "candidate", comparisons


def select(scfg: SearchConfig, ann: Measurement, measured: list[Measurement], start: float,
           expanded: bool = False, protocol: dict[str, Any] | None = None) -> SearchResult:
    """STEPS 1-2 bookkeeping: assign stages, build the candidate lists, pick the best."""
    staged = []
    for m in measured:
        stage, comparisons = _stage(scfg, ann, m)
        staged.append(m.replace(stage=stage, comparisons=comparisons))
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
                        time.perf_counter() - start, expanded, tuple(front), protocol or {})
