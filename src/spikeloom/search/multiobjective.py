"""Multi-objective search with Optuna beyond the grid: accuracy (max), reliability (max)
and energy (min), all on the validation split, under the constraint that the SNN is not
worse than the ANN in accuracy (the search's decision rule, as in Algorithm 1). With
`SearchConfig.levers`, the reliability lever is one more parameter of a trial.

The study lives in an Optuna storage shared by workers (`spikeloom.search.shared_study`).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spikeloom.data.registry import Dataset
from spikeloom.errors import ConfigError
from spikeloom.measure.splits import split_record, validation_split
from spikeloom.search.candidates import Measurement, Measurer
from spikeloom.search.config import SearchConfig
from spikeloom.search.shared_study import open_storage, optimize_shared
from spikeloom.search.staged import SearchResult, accuracy_comparison, select
from spikeloom.search.start import check_start_strategy
from spikeloom.spec import ModelConfig

DIRECTIONS = ("maximize", "maximize", "minimize")  # accuracy, reliability_pct, energy_pj


@dataclass(frozen=True)
class SearchSpace:
    """Ranges sampled per trial. Hidden widths are multiples of the topology's widths."""

    timesteps: tuple[int, int]
    threshold: tuple[float, float]
    beta: tuple[float, float] = (0.7, 1.0)
    resets: tuple[str, ...] = ("subtract", "zero")
    encodings: tuple[str, ...] = ("rate", "latency")
    slope: tuple[float, float] = (5.0, 50.0)
    width_factors: tuple[float, ...] = (0.5, 1.0, 2.0)

    @classmethod
    def around(cls, scfg: SearchConfig) -> SearchSpace:
        """A space centred on the grid of `scfg` (half the smallest to twice the largest)."""
        return cls(timesteps=(max(2, min(scfg.timesteps) // 2), 2 * max(scfg.timesteps)),
                   threshold=(min(scfg.thresholds) / 2, 2 * max(scfg.thresholds)))


def study_name(scfg: SearchConfig) -> str:
    key = json.dumps({k: v for k, v in scfg.to_dict().items() if k not in ("timesteps", "thresholds")},
                     sort_keys=True)
    return "spikeloom-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def check_optuna_methods(scfg: SearchConfig) -> None:
    """The Optuna strategy samples hidden widths, so its SNNs have no ANN of their own
    topology to convert: it trains them with BPTT only."""
    if scfg.train_methods != ("bptt",):
        raise ConfigError("--train-method convert works with --strategy grid only (Optuna samples "
                          "topologies the STEP 0 ANN does not have); drop it or use the grid")


def sample_config(trial: Any, scfg: SearchConfig, space: SearchSpace) -> ModelConfig:
    """The SNN a trial asks for."""
    hidden = []
    for i, width in enumerate(scfg.topology[1:-1]):
        factor = trial.suggest_categorical(f"width_factor_{i}", list(space.width_factors))
        hidden.append(max(1, int(round(width * factor))))
    return ModelConfig(
        arch="snn",
        topology=(scfg.topology[0], *hidden, scfg.topology[-1]),
        timesteps=trial.suggest_int("timesteps", *space.timesteps),
        threshold=trial.suggest_float("threshold", *space.threshold, log=True),
        beta=trial.suggest_float("beta", *space.beta),
        reset=trial.suggest_categorical("reset", list(space.resets)),
        encoding=trial.suggest_categorical("encoding", list(space.encodings)),
        slope=trial.suggest_float("slope", *space.slope, log=True),
    )


def optuna_search(scfg: SearchConfig, data: Dataset, out: Path, n_trials: int,
                  storage: str | None = None, space: SearchSpace | None = None,
                  progress: bool = False, log: Callable[[str], None] = lambda _s: None,
                  device: Any = None, executor: Any = None) -> SearchResult:
    """Run this worker's share of a study of `n_trials` complete trials; return the whole
    study's result (all workers' trials), stages assigned as in the staged search."""
    import optuna  # noqa: PLC0415

    if n_trials < 1:
        raise ConfigError(f"--n-trials must be >= 1, got {n_trials}")
    check_start_strategy("optuna", scfg.start)
    check_optuna_methods(scfg)
    start = time.perf_counter()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = space or SearchSpace.around(scfg)
    url = storage or f"sqlite:///{(out / 'study.db').resolve()}"
    rdb = open_storage(url)
    selection = validation_split(data, scfg.val_fraction, scfg.seed)
    measurer = Measurer(scfg, selection, out, progress, log, device, executor)
    ann = measurer.measure("ann", ModelConfig(arch="ann", topology=scfg.topology), campaign=True)
    sampler = optuna.samplers.TPESampler(
        seed=scfg.seed, multivariate=True, n_startup_trials=max(2, min(10, n_trials // 3)),
        constraints_func=lambda t: (t.user_attrs.get("constraint", 1.0),))
    study = optuna.create_study(study_name=study_name(scfg), storage=rdb, directions=list(DIRECTIONS),
                                sampler=sampler, load_if_exists=True)

    def objective(trial: Any) -> tuple[float, float, float]:
        cfg = sample_config(trial, scfg, space)
        lever = trial.suggest_categorical("lever", ["none", *scfg.levers]) if scfg.levers else "none"
        name = f"trial-{trial.number}"
        m = measurer.measure(name, cfg, campaign=False)
        accuracy = accuracy_comparison(scfg, ann, m)
        if accuracy.passes:  # cheap checks first: no campaign for an inaccurate config
            m = measurer.with_campaign(m)
            if lever != "none":
                m = measurer.with_lever(m, lever)
        # feasible (<= 0) exactly when the comparison does not show the SNN worse
        trial.set_user_attr("constraint", -(accuracy.ci[1] + accuracy.margin))
        trial.set_user_attr("measurement", m.to_dict())
        log(f"{name}: {cfg.name}, accuracy {m.accuracy:.4f}, energy {m.energy_pj:.1f} pJ")
        return m.accuracy, m.reliability_pct if m.reliability_pct is not None else 0.0, m.energy_pj

    done = optimize_shared(study, n_trials, objective)
    measured = [Measurement.from_dict(t.user_attrs["measurement"]) for t in done]
    return select(scfg, ann, measured, start, protocol=split_record(selection, scfg.val_fraction, scfg.seed))
