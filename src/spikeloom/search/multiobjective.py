"""Multi-objective search with Optuna beyond the grid: accuracy (max), reliability (max)
and energy (min) under the constraint accuracy >= ANN accuracy - tolerance.

The study lives in an Optuna storage: by default SQLite in the output folder, or any URL
(`postgresql://...`) shared by worker processes on several machines. Trials are numbered
by the storage, so workers never duplicate one; a killed worker's trial is failed by the
heartbeat and retried by the next worker; finished trials are never redone.
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
from spikeloom.search.config import SearchConfig
from spikeloom.search.measure import Measurement, Measurer
from spikeloom.search.staged import SearchResult, select
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


def open_storage(url: str, tries: int = 3):
    """An Optuna RDB storage with heartbeats, or a one-line ConfigError when unreachable.

    Retried briefly: workers starting together on a fresh database race to create its
    tables, and the loser sees 'table already exists' once."""
    import warnings  # noqa: PLC0415

    import optuna  # noqa: PLC0415

    for attempt in range(tries):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url, heartbeat_interval=30, grace_period=90,
                    heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=2))
        except Exception as exc:  # sqlalchemy raises many kinds; all mean "cannot use this URL"
            if attempt + 1 < tries:
                time.sleep(0.5 * (attempt + 1))
                continue
            reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"cannot open study storage {url!r} ({reason}); check the URL, that "
                              "the database server is reachable, and that its driver is installed") from None
    raise AssertionError("unreachable")


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


def _count(study: Any, states: tuple[Any, ...]) -> int:
    return len(study.get_trials(deepcopy=False, states=states))


def optuna_search(scfg: SearchConfig, data: Dataset, out: Path, n_trials: int,
                  storage: str | None = None, space: SearchSpace | None = None,
                  progress: bool = False, log: Callable[[str], None] = lambda _s: None
                  ) -> SearchResult:
    """Run this worker's share of a study of `n_trials` complete trials; return the whole
    study's result (all workers' trials), stages assigned as in the staged search."""
    import optuna  # noqa: PLC0415
    from optuna.trial import TrialState  # noqa: PLC0415

    if n_trials < 1:
        raise ConfigError(f"--n-trials must be >= 1, got {n_trials}")
    start = time.perf_counter()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = space or SearchSpace.around(scfg)
    url = storage or f"sqlite:///{(out / 'study.db').resolve()}"
    rdb = open_storage(url)
    measurer = Measurer(scfg, data, out, progress, log)
    ann = measurer.measure("ann", ModelConfig(arch="ann", topology=scfg.topology), campaign=True)
    floor = ann.accuracy - scfg.tolerance
    sampler = optuna.samplers.TPESampler(
        seed=scfg.seed, multivariate=True, n_startup_trials=max(2, min(10, n_trials // 3)),
        constraints_func=lambda t: (t.user_attrs.get("constraint", 1.0),))
    study = optuna.create_study(study_name=study_name(scfg), storage=rdb, directions=list(DIRECTIONS),
                                sampler=sampler, load_if_exists=True)
    busy = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING)

    def objective(trial: Any) -> tuple[float, float, float]:
        # Trial numbers come from the storage; a trial beyond the budget (a race between
        # workers) is pruned at once and never measured.
        earlier = [t for t in study.get_trials(deepcopy=False, states=busy) if t.number < trial.number]
        if len(earlier) >= n_trials:
            trial.set_user_attr("surplus", True)
            raise optuna.TrialPruned()
        cfg = sample_config(trial, scfg, space)
        name = f"trial-{trial.number}"
        m = measurer.measure(name, cfg, campaign=False)
        if m.accuracy >= floor:  # cheap checks first: no campaign for an inaccurate config
            m = measurer.with_campaign(m)
        trial.set_user_attr("constraint", floor - m.accuracy)
        trial.set_user_attr("measurement", m.to_dict())
        log(f"{name}: {cfg.name}, accuracy {m.accuracy:.4f}, energy {m.energy_pj:.1f} pJ")
        return m.accuracy, m.reliability_pct if m.reliability_pct is not None else 0.0, m.energy_pj

    def stop_when_full(study: Any, _trial: Any) -> None:
        if _count(study, busy) >= n_trials:
            study.stop()

    if _count(study, busy) < n_trials:
        study.optimize(objective, callbacks=[stop_when_full], gc_after_trial=False)
    done = sorted(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)), key=lambda t: t.number)
    measured = [Measurement.from_dict(t.user_attrs["measurement"]) for t in done]
    return select(scfg, ann, measured, start)
