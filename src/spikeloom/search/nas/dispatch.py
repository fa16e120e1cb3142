"""Architecture evaluations as executor work units (`spikeloom.executor`).

A unit is one architecture at one fidelity. A worker evaluates it in a scratch folder of its
own (so a worker on another machine of a Ray cluster needs no shared file system) and sends
back the evaluation with the files it wrote (training checkpoint, compressed network); the
driver alone writes them into `out`, with the evaluation cache entry, as each unit finishes.
A unit's evaluation is the one `evaluate_architecture` gives in this process: it depends
only on the architecture, the settings and the seed. Units already in the cache are not
sent; a worker killed mid-unit loses only that unit (the executor runs it again).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spikeloom.data.registry import Dataset
from spikeloom.errors import InfeasibleError
from spikeloom.io import atomic_write_bytes
from spikeloom.search.nas.objectives import (
    EvalSettings,
    Evaluation,
    cached,
    eval_fingerprint,
    evaluate_architecture,
    save_evaluation,
)
from spikeloom.search.nas.space import Architecture


@dataclass(frozen=True)
class EvalUnit:
    """One architecture to evaluate: its objectives, fidelity and low-fidelity overrides."""

    arch: Architecture
    objectives: tuple[str, ...]
    fidelity: str = "full"
    low: dict[str, Any] | None = None


@dataclass(frozen=True)
class EvalContext:
    """What every unit of one search shares (shipped to each worker once)."""

    data: Dataset
    settings: EvalSettings
    device: str | None = None


@dataclass(frozen=True)
class UnitOutcome:
    """A worker's answer: the evaluation (checkpoint paths relative to the scratch folder)
    and the files it wrote (path relative to `out` -> bytes), or why it cannot be mapped."""

    evaluation: Evaluation | None
    files: dict[str, bytes]
    infeasible: str | None = None


def evaluate_unit(ctx: EvalContext, unit: EvalUnit) -> UnitOutcome:
    """Evaluate `unit` in a scratch folder and return what it measured and wrote."""
    with tempfile.TemporaryDirectory(prefix="spikeloom-nas-") as scratch:
        root = Path(scratch)
        try:
            ev = evaluate_architecture(unit.arch, ctx.data, ctx.settings, root, unit.objectives,
                                       unit.fidelity, unit.low, False, ctx.device)
        except InfeasibleError as exc:
            return UnitOutcome(None, {}, str(exc))
        files = {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
                 if p.is_file() and p.parts[len(root.parts)] != "evals"}
        checkpoint = str(Path(ev.checkpoint).relative_to(root)) if ev.checkpoint else ""
        return UnitOutcome(ev.replace(checkpoint=checkpoint), files)


def land(outcome: UnitOutcome, unit: EvalUnit, ctx: EvalContext, out: Path) -> Evaluation:
    """Write a worker's files into `out`, cache its evaluation there, and return it with the
    checkpoint path under `out` (as an evaluation in this process would have it)."""
    for rel, data in outcome.files.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(out / rel, data)
    assert outcome.evaluation is not None
    ev = outcome.evaluation
    ev = ev.replace(checkpoint=str(out / ev.checkpoint) if ev.checkpoint else "")
    save_evaluation(out, eval_fingerprint(unit.arch, ctx.data, ctx.settings, unit.objectives,
                                          unit.fidelity, unit.low), ev)
    return ev


Outcome = Evaluation | InfeasibleError
_CONTEXT: dict[str, Any] = {}


def eval_context(data: Dataset, settings: EvalSettings, device: Any) -> EvalContext:
    """The search's context, the same object for every batch of one search, so that an
    executor session keeps its worker processes from batch to batch (it holds `data`, so
    the id cannot be reused while remembered)."""
    key = (id(data), settings, None if device is None else str(device))
    if _CONTEXT.get("key") != key:
        _CONTEXT.update(key=key, ctx=EvalContext(data, settings, key[2]))
    return _CONTEXT["ctx"]


def evaluate_units(units: Sequence[EvalUnit], data: Dataset, settings: EvalSettings, out: Path,
                   executor: Any = None, device: Any = None, progress: bool = False,
                   log: Callable[[str], None] | None = None) -> Iterator[tuple[int, Outcome]]:
    """Yield (index into `units`, its evaluation or the InfeasibleError that refused it) as each
    finishes. In process (the default) the units run one after another exactly as before;
    with a `processes` or `ray` executor the uncached ones go to its workers."""
    from spikeloom.executor import run_units  # noqa: PLC0415

    if executor is None or executor.kind == "inprocess":
        for i, u in enumerate(units):
            try:
                yield i, evaluate_architecture(u.arch, data, settings, out, u.objectives, u.fidelity,
                                               u.low, progress, device)
            except InfeasibleError as exc:
                yield i, exc
        return
    ctx = eval_context(data, settings, device)
    todo = []
    for i, u in enumerate(units):
        hit = cached(out, u.arch, u.fidelity, eval_fingerprint(u.arch, data, settings, u.objectives,
                                                               u.fidelity, u.low))
        if hit is not None:
            yield i, hit
        else:
            todo.append(i)
    on_gpu = ctx.device is not None and ctx.device.startswith("cuda")
    gpus = 1.0 / executor.worker_count() if on_gpu else 0.0  # workers share the GPU
    for k, outcome in run_units(executor, evaluate_unit, ctx, [units[i] for i in todo], log, gpus):
        i = todo[k]
        if outcome.infeasible is not None:
            yield i, InfeasibleError(outcome.infeasible)
        else:
            yield i, land(outcome, units[i], ctx, out)
