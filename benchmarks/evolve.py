"""Evolution (EONS-like) on digits: accuracy against generations and network size.

    python benchmarks/evolve.py [--generations 150] [--population 24] [--penalties 0,0.0005]
                                [--workers 2]

For each size penalty, one seeded run (T=10, rate coding, the other settings EvolveConfig's
defaults: fitness on all training samples, prototype init; chosen with evolve_sweep.py);
the best genome's fitness accuracy is recorded every generation and the final best is
exported and measured on the whole test split (360 samples). Larger penalties trade
accuracy for fewer synapses. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from spikeloom.data import load_dataset
from spikeloom.measure import evaluate
from spikeloom.spec import ModelConfig, TrainConfig
from spikeloom.train.evolve import EvolveConfig, EvolveRun, Genome, evolve, export


def evolve_and_score(base: ModelConfig, ec: EvolveConfig, data, seed: int
                     ) -> tuple[EvolveRun, Genome, float, float]:
    """(run, best genome, accuracy of its exported checkpoint on data.x_test, wall seconds)."""
    t0 = time.perf_counter()
    run = evolve(base, ec, data, seed)
    wall = time.perf_counter() - t0
    best = run.population[run.best]
    ckpt = export(best, base, TrainConfig(epochs=ec.generations, seed=seed), ec)
    return run, best, evaluate(ckpt.build(), ckpt.model_config, data.x_test, data.y_test, seed=seed), wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--generations", type=int, default=150)
    ap.add_argument("--population", type=int, default=24)
    ap.add_argument("--penalties", default="0,0.0005")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    data = load_dataset("digits")
    base = ModelConfig(topology=(64, 10, 10), timesteps=10, threshold=1.0, beta=0.95)
    rows = []
    for penalty in (float(p) for p in args.penalties.split(",")):
        ec = EvolveConfig(population=args.population, generations=args.generations,
                          size_penalty=penalty, workers=args.workers)
        run, best, acc, wall = evolve_and_score(base, ec, data, args.seed)
        curve = [{"generation": h["generation"], "fitness_accuracy": h["best_accuracy"],
                  "synapses": h["best_synapses"], "hidden": h["best_hidden"]}
                 for h in run.history if h["generation"] % 10 == 0 or h["generation"] == run.generation]
        rows.append({"size_penalty": penalty, "test_accuracy": acc, "hidden": best.hidden,
                     "synapses": best.synapses, "wall_seconds": wall, "curve": curve})
        print(f"penalty {penalty:g}: test {acc:.4f}, {best.hidden} hidden, {best.synapses} synapses, "
              f"{wall:.0f} s; fitness accuracy by generation "
              + " ".join(f"{c['generation']}:{c['fitness_accuracy']:.3f}" for c in curve))
    print(json.dumps({"benchmark": "evolve", "dataset": "digits", "population": args.population,
                      "evolve_config": ec.to_dict(), "seed": args.seed,
                      "generations": args.generations, "workers": args.workers, "results": rows,
                      "machine": f"{platform.machine()} torch {torch.__version__}"}))


if __name__ == "__main__":
    main()
