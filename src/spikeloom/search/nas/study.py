"""Run an architecture search: an Optuna study in an RDB storage (SQLite in the output
folder by default, or a shared URL), resumable and shareable by worker processes
(`spikeloom.search.shared_study`, as the multi-objective search); finished evaluations are
cached on disk.

Cheap fidelities (low, proxy) run inside the study; their best candidates (plus a random
validation sample) are then promoted to full fidelity, the Pareto front is taken over the
full-fidelity evaluations only, and the cheap ranking is validated against them.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spikeloom.data.registry import Dataset
from spikeloom.errors import ConfigError, InfeasibleError
from spikeloom.io import atomic_write_json, prepare_out_dir
from spikeloom.search.nas.fidelity import FidelityConfig, pareto_ranks, promotion, rank_correlation
from spikeloom.search.nas.hypervolume import (
    as_minimization,
    hypervolume,
    hypervolume_curve,
    non_dominated,
    normalized,
    reference_box,
)
from spikeloom.search.nas.objectives import (
    OBJECTIVES,
    EvalSettings,
    Evaluation,
    report_test,
)
from spikeloom.search.nas.space import NasSpace
from spikeloom.search.nas.strategies import STRATEGIES, make_sampler, suggest
from spikeloom.search.shared_study import open_storage, optimize_in_batches, optimize_shared
from spikeloom.spec import Spec

BUDGETS = ("area", "memory", "energy")


@dataclass(frozen=True)
class NasConfig(Spec):
    """One architecture search. budgets: objective -> maximum allowed (area in cells, memory
    in bits, energy in pJ per sample); violating trials are infeasible."""

    dataset: str = "digits"
    strategy: str = "tpe"
    objectives: tuple[str, ...] = ("accuracy", "energy", "area")
    n_trials: int = 20
    seed: int = 0
    space: NasSpace = field(default_factory=NasSpace)
    settings: EvalSettings = field(default_factory=EvalSettings)
    fidelity: FidelityConfig = field(default_factory=FidelityConfig)
    budgets: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"unknown strategy {self.strategy!r}; choose one of {', '.join(STRATEGIES)}")
        if self.n_trials < 1:
            raise ConfigError(f"--n-trials must be >= 1, got {self.n_trials}")
        if "accuracy" not in self.objectives:
            raise ConfigError("the objectives must include accuracy (the other objectives trade against it)")
        for name, limit in self.budgets:
            if name not in BUDGETS:
                raise ConfigError(f"unknown budget {name!r}; budgets exist for {', '.join(BUDGETS)}")
            if not limit > 0:
                raise ConfigError(f"budget {name} must be > 0, got {limit}")

    def study_objectives(self) -> tuple[str, ...]:
        """Objectives the in-study evaluator measures (the proxy cannot measure reliability)."""
        if self.fidelity.kind == "proxy":
            return tuple(o for o in self.objectives if o != "reliability")
        return self.objectives

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "strategy": self.strategy, "objectives": list(self.objectives),
                "n_trials": self.n_trials, "seed": self.seed, "space": self.space.to_dict(),
                "settings": self.settings.to_dict(), "fidelity": self.fidelity.to_dict(),
                "budgets": {k: v for k, v in self.budgets}}


def study_name(ncfg: NasConfig) -> str:
    key = json.dumps({k: v for k, v in ncfg.to_dict().items() if k != "n_trials"}, sort_keys=True)
    return "spikeloom-nas-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def objective_vector(ev: Evaluation, names: tuple[str, ...]) -> tuple[float, ...]:
    """Values in `names` order; a proxy evaluation's accuracy is its SAHD score."""
    out = []
    for n in names:
        if n == "accuracy" and ev.fidelity == "proxy":
            out.append(float(ev.score if ev.score is not None and math.isfinite(ev.score) else -1e9))
        else:
            out.append(float(ev.objectives[n]))
    return tuple(out)


def violations(ev: Evaluation, budgets: tuple[tuple[str, float], ...]) -> tuple[float, ...]:
    """Per budget: measured - limit (<= 0 is within budget). Unmeasured figures count as met."""
    return tuple(float(ev.objectives[k]) - float(v) if k in ev.objectives else 0.0 for k, v in budgets) or (0.0,)


def run_study(ncfg: NasConfig, data: Dataset, out: Path, storage: str | None = None, progress: bool = False,
              log: Callable[[str], None] = lambda _s: None, device: Any = None,
              executor: Any = None) -> list[Evaluation]:
    """This worker's share of the study (`n_trials` complete trials in all); returns every
    worker's completed evaluations in trial order. `executor` (an `ExecutorConfig`): with
    `processes` or `ray`, this process asks the trials in batches of the executor's width and
    its workers evaluate them (`spikeloom.search.nas.dispatch`); in process (the default)
    each trial is evaluated here."""
    import optuna  # noqa: PLC0415

    from spikeloom.executor import capacity  # noqa: PLC0415
    from spikeloom.search.nas.dispatch import EvalUnit, evaluate_units  # noqa: PLC0415

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out = prepare_out_dir(out)
    url = storage or f"sqlite:///{(out / 'study.db').resolve()}"
    rdb = open_storage(url)
    names = ncfg.study_objectives()
    sampler = make_sampler(ncfg.strategy, ncfg.space, ncfg.seed, ncfg.n_trials)
    study = optuna.create_study(study_name=study_name(ncfg), storage=rdb, sampler=sampler,
                                directions=[OBJECTIVES[n] for n in names], load_if_exists=True)
    kind = ncfg.fidelity.kind
    low = ncfg.fidelity.low_overrides(ncfg.settings.epochs, ncfg.settings.train_subset) if kind == "low" else None

    def propose(trial: Any) -> EvalUnit:
        return EvalUnit(suggest(trial, ncfg.strategy, ncfg.space), names, kind, low)

    def evaluate(units: list[EvalUnit]) -> Any:
        return evaluate_units(units, data, ncfg.settings, out, executor, device, progress, log)

    def record(trial: Any, unit: EvalUnit, ev: Evaluation | InfeasibleError) -> tuple[float, ...]:
        label = unit.arch.label
        if isinstance(ev, InfeasibleError):  # e.g. a library whose crossbar counts cannot hold it
            trial.set_user_attr("infeasible", str(ev))
            log(f"trial {trial.number}: {label}: cannot be mapped ({ev})")
            raise optuna.TrialPruned()
        for (name, _limit), excess in zip(ncfg.budgets, violations(ev, ncfg.budgets)):
            trial.set_constraint(f"budget_{name}", excess)
        trial.set_user_attr("evaluation", ev.to_dict())
        values = objective_vector(ev, names)
        log(f"trial {trial.number}: {label}: " + ", ".join(f"{n} {v:.4g}" for n, v in zip(names, values)))
        return values

    if executor is None or executor.kind == "inprocess":
        def objective(trial: Any) -> tuple[float, ...]:
            unit = propose(trial)
            return record(trial, unit, next(iter(evaluate([unit])))[1])

        done = optimize_shared(study, ncfg.n_trials, objective)
    else:
        done = optimize_in_batches(study, ncfg.n_trials, capacity(executor), propose, evaluate, record)
    return [Evaluation.from_dict(t.user_attrs["evaluation"]) for t in done]


@dataclass(frozen=True)
class NasResult:
    """Trials of the study (at its fidelity), the full-fidelity evaluations the front is
    taken over, the front (indices into `final`), and the timing of both phases (s)."""

    config: NasConfig
    trials: tuple[Evaluation, ...]
    final: tuple[Evaluation, ...]
    front: tuple[int, ...]
    study_seconds: float
    promotion_seconds: float


def promote(ncfg: NasConfig, cheap: list[Evaluation], data: Dataset, out: Path, progress: bool = False,
            log: Callable[[str], None] = lambda _s: None, device: Any = None,
            executor: Any = None) -> list[Evaluation]:
    """Full-fidelity evaluations of the promoted cheap candidates (cached, so every worker
    may call this; the work is done once), on `executor`'s workers when given."""
    from spikeloom.search.nas.dispatch import EvalUnit, evaluate_units  # noqa: PLC0415

    names = ncfg.study_objectives()
    unique: dict[str, Evaluation] = {}
    for ev in cheap:
        unique.setdefault(ev.key, ev)
    evs = list(unique.values())
    feasible = [max(violations(e, ncfg.budgets)) <= 0 for e in evs]
    points = [as_minimization(objective_vector(e, names), [OBJECTIVES[n] for n in names]) for e in evs]
    ranks = [r if ok else r + len(evs) for r, ok in zip(pareto_ranks(points), feasible)]
    scores = [e.score if e.score is not None else -math.inf for e in evs]
    chosen = promotion(ranks, scores, ncfg.fidelity.promote, ncfg.fidelity.validate, ncfg.seed)
    for i in chosen:
        log(f"promote {evs[i].arch.label} to full fidelity")
    units = [EvalUnit(evs[i].arch, ncfg.objectives) for i in chosen]
    full: list[Any] = [None] * len(units)
    for k, ev in evaluate_units(units, data, ncfg.settings, out, executor, device, progress, log):
        if isinstance(ev, InfeasibleError):
            raise ev
        full[k] = ev
    return full


def run_nas(ncfg: NasConfig, data: Dataset, out: Path, storage: str | None = None, progress: bool = False,
            log: Callable[[str], None] = lambda _s: None, device: Any = None,
            executor: Any = None) -> NasResult:
    """The whole search: study, promotion (cheap fidelities), Pareto front. `executor`: where
    the evaluations run (see `run_study`)."""
    t0 = time.perf_counter()
    trials = run_study(ncfg, data, out, storage, progress, log, device, executor)
    t1 = time.perf_counter()
    final = trials if ncfg.fidelity.kind == "full" else promote(ncfg, trials, data, out, progress, log, device,
                                                                  executor)
    t2 = time.perf_counter()
    return NasResult(ncfg, tuple(trials), tuple(final), tuple(front_of(ncfg, final)), t1 - t0, t2 - t1)


def front_of(ncfg: NasConfig, evals: list[Evaluation] | tuple[Evaluation, ...]) -> list[int]:
    """Indices of the feasible, non-dominated full-fidelity evaluations (distinct architectures)."""
    dirs = [OBJECTIVES[n] for n in ncfg.objectives]
    idx = [i for i, e in enumerate(evals) if max(violations(e, ncfg.budgets)) <= 0]
    pts = [as_minimization(objective_vector(evals[i], ncfg.objectives), dirs) for i in idx]
    return [idx[k] for k in non_dominated(pts)]


def summarize(result: NasResult, out: Path, export: bool = True, data: Dataset | None = None) -> dict[str, Any]:
    """The summary.json content (see docs/nas.md). Exports the front's mappings when asked;
    with `data`, reports the test accuracy of every full-fidelity evaluation (after the
    search, which read only the validation split)."""
    test = {e.key: report_test(e, data) for e in result.final} if data is not None else {}
    ncfg = result.config
    names, dirs = ncfg.objectives, [OBJECTIVES[n] for n in ncfg.objectives]
    final = list(result.final)
    pts = [as_minimization(objective_vector(e, names), dirs) for e in final]
    hv: dict[str, Any] = {"value": None, "curve": [], "ideal": None, "nadir": None, "objectives": list(names)}
    if pts:
        ideal, nadir = reference_box(pts)
        front_pts = [pts[i] for i in result.front]
        hv.update(value=hypervolume(normalized(front_pts, ideal, nadir), (1.0,) * len(names)),
                  ideal=list(ideal), nadir=list(nadir))
        feasible = [max(violations(e, ncfg.budgets)) <= 0 for e in final]
        order = list(range(len(final)))
        curve = hypervolume_curve([pts[i] if feasible[i] else nadir for i in order], ideal, nadir)
        elapsed = result.study_seconds if ncfg.fidelity.kind != "full" else 0.0
        rows = []
        for k, i in enumerate(order):
            elapsed += final[i].seconds
            rows.append({"evaluations": k + 1, "seconds": round(elapsed, 3), "hypervolume": curve[k]})
        hv["curve"] = rows
    pareto = []
    for i in result.front:
        e = final[i]
        entry = {"architecture": e.architecture, "label": e.arch.label, "objectives": e.objectives,
                 "test_accuracy": test.get(e.key), "checkpoint": str(Path(e.checkpoint).with_name("compressed.pt"))}
        if export and ("area" in names or "routes" in names):
            entry["mapping"] = export_mapping(e, ncfg.settings, out)
        pareto.append(entry)
    correlation = None
    if ncfg.fidelity.kind != "full":
        by_key = {e.key: e for e in result.trials}
        pairs = [(by_key[e.key].score, e.objectives["accuracy"]) for e in final if e.key in by_key]
        correlation = {**rank_correlation([a for a, _ in pairs], [b for _, b in pairs]),
                       "evaluator": "sahd" if ncfg.fidelity.kind == "proxy" else "low-fidelity accuracy",
                       "pairs": [{"cheap": a, "full_accuracy": b} for a, b in pairs]}
    return {
        "dataset": ncfg.dataset, "strategy": ncfg.strategy, "fidelity": ncfg.fidelity.kind,
        "objectives": list(names), "directions": dirs, "n_trials": ncfg.n_trials, "seed": ncfg.seed,
        "config": ncfg.to_dict(),
        "trials": [{"key": e.key, "label": e.arch.label, "fidelity": e.fidelity, "architecture": e.architecture,
                    "objectives": e.objectives, "score": e.score, "seconds": e.seconds,
                    "feasible": max(violations(e, ncfg.budgets)) <= 0} for e in result.trials],
        "promoted": [{"key": e.key, "label": e.arch.label, "objectives": e.objectives,
                      "test_accuracy": test.get(e.key), "seconds": e.seconds} for e in final]
        if ncfg.fidelity.kind != "full" else [],
        "pareto": pareto,
        "hypervolume": hv,
        "proxy_correlation": correlation,
        "study_seconds": result.study_seconds, "promotion_seconds": result.promotion_seconds,
    }


def export_mapping(ev: Evaluation, settings: EvalSettings, out: Path) -> str:
    """Re-map a front member's compressed network and save the crossbar mapping as JSON
    next to its checkpoint; returns the path."""
    from spikeloom.measure.graph import graph_from_checkpoint  # noqa: PLC0415
    from spikeloom.search.nas.hardware import map_graph  # noqa: PLC0415

    ckpt_path = Path(ev.checkpoint).with_name("compressed.pt")
    target = ckpt_path.with_name("mapping.json")
    if target.exists():
        return str(target)
    cost = map_graph(graph_from_checkpoint(ckpt_path), ev.arch.library, settings.map_time_limit,
                     settings.seed, settings.map_exact, keep_mapping=True)
    atomic_write_json(target, cost.to_dict())
    return str(target)
