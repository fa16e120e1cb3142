"""EONS-like evolution of a spiking network's topology and weights (Schuman et al., TENNLab).

Genome: D input neurons, a variable set of hidden neurons and C output neurons; synapses
input -> hidden and hidden -> output only (each present or absent, with a weight), and a
threshold per hidden and output neuron. The layered restriction is what makes the result an
ordinary `SpikingMLP` D-H-C checkpoint: absent synapses are exact zeros (the crossbar
mapper prunes them), thresholds are folded into the weights (W_j / thr_j, exact for LIF with
subtractive reset, so the model threshold is 1). `spikeloom export --format tennlab` writes
the same sparse network as TENNLab JSON.

One generation: evaluate every genome (in parallel worker processes; fitness is a
deterministic function of the genome), keep the best `elite` unchanged, fill the rest with
children of tournament-selected parents: neuron-level crossover with probability
`crossover`, then `mutations` random operators among add/remove neuron, add/remove synapse,
perturb weight, perturb threshold. All random choices come from one seeded numpy generator
in the parent process, so a run is reproducible whatever the number of workers, and
resumable from `evolve_state.pt` after any generation.

fitness = accuracy (ties split) on a fixed, pre-encoded fitness set (training split)
          - size_penalty * (number of synapses)
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spikeloom.data.encoders import encode, make_generator
from spikeloom.data.registry import Dataset
from spikeloom.errors import ConfigError
from spikeloom.executor import close_pool
from spikeloom.io import atomic_write
from spikeloom.snn.checkpoint import Checkpoint
from spikeloom.snn.models import build_model
from spikeloom.spec import ModelConfig, Spec, TrainConfig

INITS = ("samples", "random")
OPERATORS = ("add_neuron", "remove_neuron", "add_synapse", "remove_synapse", "weight", "threshold")


@dataclass(frozen=True)
class EvolveConfig(Spec):
    """population: genomes per generation (>= 2); generations; tournament: contestants per
    selection; elite: best genomes copied unchanged (>= 1 keeps the best fitness monotone);
    crossover: probability a child has two parents; mutations: operators per child;
    size_penalty: fitness cost per synapse; init_hidden / max_hidden: hidden neurons at
    start / at most; fan_in: input synapses of a new hidden neuron; out_synapses: output
    synapses of a new hidden neuron (at most C); init_gain: weight scale of new synapses in
    units of threshold / sqrt(fan-in); init: "samples" (a new hidden neuron is a prototype
    of a random fitness image: input synapses on the image's `fan_in` pixels furthest from
    the mean image, weights the image minus the mean, an excitatory synapse to the image's
    class output) or "random" (random pixels, N(0, scale) weights); weight_sigma: std of
    the Gaussian the `weight` operator adds to every incoming weight of one neuron, in the same units;
    fitness_samples: training samples the fitness is measured on (0: all); workers:
    evaluation processes. Defaults chosen on a digits validation split
    (benchmarks/evolve_sweep.py, docs/training.md)."""

    population: int = 24
    generations: int = 30
    tournament: int = 3
    elite: int = 1
    crossover: float = 0.0
    mutations: int = 3
    size_penalty: float = 1e-4
    init_hidden: int = 30
    max_hidden: int = 64
    fan_in: int = 12
    out_synapses: int = 10
    init: str = "samples"
    init_gain: float = 0.5
    weight_sigma: float = 0.5
    fitness_samples: int = 0
    workers: int = 2

    def __post_init__(self) -> None:
        if self.population < 2:
            raise ConfigError(f"--population {self.population}: evolution needs a population of "
                              "at least 2 genomes; e.g. --population 24")
        if self.generations < 0:
            raise ConfigError(f"--generations {self.generations} must be >= 0")
        if not 1 <= self.tournament <= self.population:
            raise ConfigError(f"--tournament {self.tournament} must be in 1..population ({self.population})")
        if not 1 <= self.elite < self.population:
            raise ConfigError(f"--elite {self.elite} must be in 1..population-1")
        if not 0.0 <= self.crossover <= 1.0:
            raise ConfigError(f"--crossover {self.crossover} must be a probability in [0, 1]")
        if self.mutations < 0 or self.size_penalty < 0 or self.weight_sigma <= 0 or self.init_gain <= 0:
            raise ConfigError("--mutations and --size-penalty must be >= 0, --weight-sigma and "
                              "--init-gain > 0")
        if not 1 <= self.init_hidden <= self.max_hidden:
            raise ConfigError(f"--init-hidden {self.init_hidden} must be in 1..--max-hidden ({self.max_hidden})")
        if self.init not in INITS:
            raise ConfigError(f"--init {self.init!r}: choose one of {', '.join(INITS)}")
        if min(self.fan_in, self.out_synapses, self.workers) < 1 or self.fitness_samples < 0:
            raise ConfigError("--fan-in, --out-synapses and --workers must be >= 1, "
                              "--fitness-samples >= 0 (0: all training samples)")


@dataclass
class Genome:
    """w1 [H, D] and m1 (present) input->hidden; w2 [C, H], m2 hidden->output;
    thr_h [H], thr_o [C] thresholds (> 0)."""

    w1: np.ndarray
    m1: np.ndarray
    w2: np.ndarray
    m2: np.ndarray
    thr_h: np.ndarray
    thr_o: np.ndarray

    @property
    def hidden(self) -> int:
        return int(self.w1.shape[0])

    @property
    def synapses(self) -> int:
        return int(self.m1.sum() + self.m2.sum())

    def to_dict(self) -> dict[str, torch.Tensor]:
        return {k: torch.from_numpy(np.ascontiguousarray(getattr(self, k))) for k in
                ("w1", "m1", "w2", "m2", "thr_h", "thr_o")}

    @classmethod
    def from_dict(cls, d: dict[str, torch.Tensor]) -> Genome:
        return cls(**{k: v.numpy().copy() for k, v in d.items()})


def weight_scales(ec: EvolveConfig) -> tuple[float, float]:
    """Std of a new synapse's weight per unit threshold: input->hidden (fan-in `fan_in`) and
    hidden->output (fan-in about `init_hidden`), so that a neuron's summed input is of the
    order of its threshold whatever the fan-in (inputs and spikes are in [0, 1])."""
    return ec.init_gain / math.sqrt(ec.fan_in), ec.init_gain / math.sqrt(ec.init_hidden)


@dataclass(frozen=True)
class Prototypes:
    """Images a new hidden neuron may copy (init='samples'): x [S, D] in [0, 1], labels y [S],
    and the mean image [D]."""

    x: np.ndarray
    y: np.ndarray
    mean: np.ndarray

    @classmethod
    def of(cls, x: torch.Tensor, y: torch.Tensor) -> Prototypes:
        xn = x.double().numpy()
        return cls(xn, y.numpy().astype(np.int64), xn.mean(0))


def new_neuron(rng: np.random.Generator, d: int, c: int, ec: EvolveConfig,
               protos: Prototypes | None = None):
    """(w1 row [D], m1 row, w2 column [C], m2 column, threshold) of a fresh hidden neuron:
    `fan_in` input synapses, `out_synapses` random output synapses, weights of std
    scale * threshold (see `weight_scales`; output thresholds start at 1). With `protos`
    (init='samples') the neuron is a prototype of one random image (EvolveConfig.init)."""
    s1, s2 = weight_scales(ec)
    thr = float(rng.uniform(0.5, 2.0))
    m1 = np.zeros(d, dtype=bool)
    m2 = np.zeros(c, dtype=bool)
    m2[rng.choice(c, size=min(ec.out_synapses, c), replace=False)] = True
    w2 = rng.normal(0.0, s2, c)
    if protos is None:
        m1[rng.choice(d, size=min(ec.fan_in, d), replace=False)] = True
        w1 = rng.normal(0.0, s1 * thr, d)
    else:
        k = int(rng.integers(len(protos.y)))
        v = protos.x[k] - protos.mean
        m1[np.argsort(-np.abs(v), kind="stable")[: min(ec.fan_in, d)]] = True
        rms = float(np.sqrt(np.mean(v[m1] ** 2)))
        w1 = v * (s1 * thr / rms) if rms > 0 else rng.normal(0.0, s1 * thr, d)
        label = int(protos.y[k])
        m2[label], w2[label] = True, abs(w2[label]) + s2
    return w1 * m1, m1, w2 * m2, m2, thr


def random_genome(rng: np.random.Generator, d: int, c: int, ec: EvolveConfig,
                  protos: Prototypes | None = None) -> Genome:
    parts = [new_neuron(rng, d, c, ec, protos) for _ in range(ec.init_hidden)]
    return Genome(np.stack([p[0] for p in parts]), np.stack([p[1] for p in parts]),
                  np.stack([p[2] for p in parts], 1), np.stack([p[3] for p in parts], 1),
                  np.array([p[4] for p in parts]), np.ones(c))


def mutate(g: Genome, rng: np.random.Generator, ec: EvolveConfig,
           protos: Prototypes | None = None) -> Genome:
    """One random operator (OPERATORS) applied to a copy of g."""
    g = copy.deepcopy(g)
    op = OPERATORS[int(rng.integers(len(OPERATORS)))]
    c, d = g.w2.shape[0], g.w1.shape[1]
    if op == "add_neuron" and g.hidden < ec.max_hidden:
        w1, m1, w2, m2, thr = new_neuron(rng, d, c, ec, protos)
        g.w1, g.m1 = np.vstack([g.w1, w1]), np.vstack([g.m1, m1])
        g.w2, g.m2 = np.hstack([g.w2, w2[:, None]]), np.hstack([g.m2, m2[:, None]])
        g.thr_h = np.append(g.thr_h, thr)
    elif op == "remove_neuron" and g.hidden > 1:
        j = int(rng.integers(g.hidden))
        g.w1, g.m1 = np.delete(g.w1, j, 0), np.delete(g.m1, j, 0)
        g.w2, g.m2 = np.delete(g.w2, j, 1), np.delete(g.m2, j, 1)
        g.thr_h = np.delete(g.thr_h, j)
    elif op in ("add_synapse", "remove_synapse"):
        layer = int(rng.integers(2))
        w, m, thr = (g.w1, g.m1, g.thr_h) if layer == 0 else (g.w2, g.m2, g.thr_o)
        idx = np.argwhere(~m if op == "add_synapse" else m)
        if len(idx):
            i, j = idx[int(rng.integers(len(idx)))]
            if op == "add_synapse":
                m[i, j], w[i, j] = True, rng.normal(0.0, weight_scales(ec)[layer] * thr[i])
            else:
                m[i, j], w[i, j] = False, 0.0
    elif op == "weight":
        # every incoming weight of one hidden or output neuron moves by a Gaussian step
        # scaled to that neuron's threshold and fan-in, as its initial weights were
        s1, s2 = weight_scales(ec)
        if rng.random() < g.hidden / (g.hidden + len(g.thr_o)):
            j = int(rng.integers(g.hidden))
            g.w1[j] += rng.normal(0.0, ec.weight_sigma * s1 * g.thr_h[j], d) * g.m1[j]
        else:
            j = int(rng.integers(len(g.thr_o)))
            g.w2[j] += rng.normal(0.0, ec.weight_sigma * s2 * g.thr_o[j], g.hidden) * g.m2[j]
    elif op == "threshold":
        if rng.random() < g.hidden / (g.hidden + len(g.thr_o)):
            j = int(rng.integers(g.hidden))
            g.thr_h[j] = max(0.05, g.thr_h[j] * math.exp(rng.normal(0.0, 0.3)))
        else:
            j = int(rng.integers(len(g.thr_o)))
            g.thr_o[j] = max(0.05, g.thr_o[j] * math.exp(rng.normal(0.0, 0.3)))
    return g


def crossover(a: Genome, b: Genome, rng: np.random.Generator, max_hidden: int) -> Genome:
    """Each hidden neuron of either parent (with its synapses) is inherited with probability 1/2;
    output thresholds from either parent per neuron. At least one hidden neuron survives."""
    pool = [(a, j) for j in range(a.hidden)] + [(b, j) for j in range(b.hidden)]
    keep = [p for p in pool if rng.random() < 0.5][:max_hidden] or [pool[int(rng.integers(len(pool)))]]
    pick = rng.random(len(a.thr_o)) < 0.5
    return Genome(np.stack([g.w1[j] for g, j in keep]), np.stack([g.m1[j] for g, j in keep]),
                  np.stack([g.w2[:, j] for g, j in keep], 1), np.stack([g.m2[:, j] for g, j in keep], 1),
                  np.array([g.thr_h[j] for g, j in keep]), np.where(pick, a.thr_o, b.thr_o))


def genome_state(g: Genome) -> dict[str, torch.Tensor]:
    """fcs weights of the D-H-C SpikingMLP: absent synapses 0, thresholds folded in."""
    w1 = (g.w1 * g.m1) / g.thr_h[:, None]
    w2 = (g.w2 * g.m2) / g.thr_o[:, None]
    return {"fcs.0.weight": torch.from_numpy(w1).float(), "fcs.1.weight": torch.from_numpy(w2).float()}


def genome_model(g: Genome, base: ModelConfig) -> tuple[ModelConfig, torch.nn.Module]:
    cfg = base.replace(topology=(g.w1.shape[1], g.hidden, g.w2.shape[0]))
    model = build_model(cfg)
    state = model.state_dict()
    state.update(genome_state(g))
    model.load_state_dict(state)
    return cfg, model.eval()


# ---- fitness, evaluated in worker processes -------------------------------------------
_WORKER: dict[str, Any] = {}


def _init_worker(inputs: torch.Tensor, labels: torch.Tensor, base: dict, penalty: float) -> None:
    torch.set_num_threads(1)
    _WORKER.update(inputs=inputs, labels=labels, base=ModelConfig.from_dict(base), penalty=penalty)


@torch.no_grad()
def fitness(g: Genome, inputs: torch.Tensor, labels: torch.Tensor, base: ModelConfig,
            penalty: float) -> tuple[float, float]:
    """(fitness, accuracy) on pre-encoded inputs [T, S, D]. A sample whose label is among k
    tied top counts scores 1/k (the expected accuracy of a random tie-break), so silent
    outputs score chance, not the lowest class index."""
    _, model = genome_model(g, base)
    out = model(inputs)
    top = out == out.max(1, keepdim=True).values
    score = top.gather(1, labels.view(-1, 1)).squeeze(1).float() / top.sum(1).float()
    acc = float(score.mean())
    return acc - penalty * g.synapses, acc


def _worker_fitness(g: Genome) -> tuple[float, float]:
    return fitness(g, _WORKER["inputs"], _WORKER["labels"], _WORKER["base"], _WORKER["penalty"])


@dataclass
class EvolveRun:
    """State after a generation: everything needed to resume."""

    population: list[Genome]
    scores: list[tuple[float, float]]
    generation: int
    rng_state: dict
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def best(self) -> int:
        return max(range(len(self.scores)), key=lambda i: (self.scores[i][0], -i))


def _tournament(scores: list[tuple[float, float]], rng: np.random.Generator, k: int) -> int:
    idx = rng.choice(len(scores), size=k, replace=False)
    return int(max(idx, key=lambda i: (scores[i][0], -i)))


def next_population(run: EvolveRun, rng: np.random.Generator, ec: EvolveConfig,
                    protos: Prototypes | None = None) -> list[Genome]:
    order = sorted(range(len(run.scores)), key=lambda i: (-run.scores[i][0], i))
    children = [copy.deepcopy(run.population[i]) for i in order[: ec.elite]]
    while len(children) < ec.population:
        a = run.population[_tournament(run.scores, rng, ec.tournament)]
        if rng.random() < ec.crossover:
            b = run.population[_tournament(run.scores, rng, ec.tournament)]
            child = crossover(a, b, rng, ec.max_hidden)
        else:
            child = copy.deepcopy(a)
        for _ in range(ec.mutations):
            child = mutate(child, rng, ec, protos)
        children.append(child)
    return children


def _state_payload(run: EvolveRun, ec: EvolveConfig, base: ModelConfig, seed: int) -> dict:
    return {"format": "spikeloom-evolve", "evolve_config": ec.to_dict(), "model_config": base.to_dict(),
            "seed": seed, "generation": run.generation, "rng_state": run.rng_state,
            "population": [g.to_dict() for g in run.population], "scores": run.scores,
            "history": run.history, "seconds": run.seconds}


def _resume(path: Path | None, ec: EvolveConfig, base: ModelConfig, seed: int) -> EvolveRun | None:
    """The saved run at `path` when it was made with the same settings (generations may grow)."""
    if path is None or not path.exists():
        return None
    try:
        p = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - an unreadable state file is simply not resumed
        return None
    same = (isinstance(p, dict) and p.get("format") == "spikeloom-evolve" and p.get("seed") == seed
            and p.get("model_config") == base.to_dict()
            and {**p.get("evolve_config", {}), "generations": ec.generations, "workers": ec.workers}
            == ec.to_dict())
    if not same:
        return None
    return EvolveRun([Genome.from_dict(g) for g in p["population"]],
                     [tuple(s) for s in p["scores"]], int(p["generation"]), p["rng_state"],
                     list(p["history"]), float(p["seconds"]))


def fitness_set(data: Dataset, base: ModelConfig, ec: EvolveConfig, seed: int
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `fitness_samples` training samples (0: all), encoded once with the run's seed."""
    n = ec.fitness_samples or len(data.y_train)
    x, y = data.x_train[:n], data.y_train[:n]
    return encode(x, base.encoding, base.timesteps, generator=make_generator(seed + 7)), y


def evolve(base: ModelConfig, ec: EvolveConfig, data: Dataset, seed: int,
           state_path: str | Path | None = None, log: Callable[[str], None] | None = None) -> EvolveRun:
    """Run (or resume) the evolution; saves `state_path` after every generation."""
    if len(base.topology) != 3:
        raise ConfigError("--method evolve evolves one hidden population: give --topology D-H-C "
                          "(H: the initial hidden size is --init-hidden)")
    d, c = data.input_size, base.topology[-1]
    if base.topology[0] != d:
        raise ConfigError(f"topology input {base.topology[0]} does not match {data.name!r} ({d} features)")
    path = Path(state_path) if state_path else None
    inputs, labels = fitness_set(data, base, ec, seed)
    protos = (Prototypes.of(data.x_train[: len(labels)], labels)
              if ec.init == "samples" else None)
    run = _resume(path, ec, base, seed)
    rng = np.random.default_rng(seed)
    initargs = (inputs, labels, base.to_dict(), ec.size_penalty)
    with _evaluator(ec.workers, initargs) as pool:
        if run is None:
            t0 = time.perf_counter()
            population = [random_genome(rng, d, c, ec, protos) for _ in range(ec.population)]
            scores = list(pool.map(_worker_fitness, population))
            run = EvolveRun(population, scores, 0, rng.bit_generator.state, seconds=time.perf_counter() - t0)
            run.history.append(_record(run))
            _save(path, run, ec, base, seed)
        else:
            rng.bit_generator.state = run.rng_state
            if log:
                log(f"resuming evolution at generation {run.generation}/{ec.generations} from {path}")
        while run.generation < ec.generations:
            t0 = time.perf_counter()
            population = next_population(run, rng, ec, protos)
            scores = list(pool.map(_worker_fitness, population))
            run = EvolveRun(population, scores, run.generation + 1, rng.bit_generator.state,
                            run.history, run.seconds + time.perf_counter() - t0)
            run.history.append(_record(run))
            _save(path, run, ec, base, seed)
            if log:
                h = run.history[-1]
                log(f"generation {run.generation}/{ec.generations}: best fitness {h['best_fitness']:.4f} "
                    f"(accuracy {h['best_accuracy']:.4f}, {h['best_hidden']} hidden, {h['best_synapses']} synapses)")
    return run


class _InProcess:
    """The pool's `map` in this process (one worker: no process start-up)."""

    def __init__(self, initargs: tuple) -> None:
        self.saved = dict(_WORKER)
        self.threads = torch.get_num_threads()
        _init_worker(*initargs)

    def map(self, fn, items):  # noqa: ANN001 - same signature as Executor.map
        return [fn(item) for item in items]

    def __enter__(self) -> _InProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        _WORKER.clear()
        _WORKER.update(self.saved)
        torch.set_num_threads(self.threads)


@contextmanager
def _evaluator(workers: int, initargs: tuple) -> Iterator[Any]:
    """Spawned worker processes (safe with torch's thread pools), or this process for one;
    the pool is closed by the executor's `close_pool` (no hang when a worker dies at the end)."""
    if workers == 1:
        with _InProcess(initargs) as here:
            yield here
        return
    pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_init_worker,
                               initargs=initargs)
    try:
        yield pool
    finally:
        close_pool(pool)


def _record(run: EvolveRun) -> dict:
    b = run.best
    g = run.population[b]
    return {"generation": run.generation, "best_fitness": run.scores[b][0],
            "best_accuracy": run.scores[b][1], "best_hidden": g.hidden, "best_synapses": g.synapses,
            "mean_fitness": float(np.mean([s[0] for s in run.scores])), "seconds": run.seconds}


def _save(path: Path | None, run: EvolveRun, ec: EvolveConfig, base: ModelConfig, seed: int) -> None:
    if path is not None:
        payload = _state_payload(run, ec, base, seed)
        atomic_write(path, lambda p: torch.save(payload, p))


def export(g: Genome, base: ModelConfig, tcfg: TrainConfig, ec: EvolveConfig) -> Checkpoint:
    cfg, model = genome_model(g, base)
    return Checkpoint(cfg, tcfg, {k: v.clone() for k, v in model.state_dict().items()},
                      epoch=tcfg.epochs,
                      extra={"method": "evolve", "evolve_config": ec.to_dict(),
                             "thresholds_hidden": g.thr_h.tolist(), "thresholds_output": g.thr_o.tolist(),
                             "synapses": g.synapses})
