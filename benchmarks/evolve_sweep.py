"""Choosing `--method evolve` defaults on a validation split (never on test).

    python benchmarks/evolve_sweep.py [--generations 60] [--seed 0] \
        "name:key=value,key=value" ["name2:..."]

Each argument is one EvolveConfig variant (keys are EvolveConfig fields; an empty variant
is the current defaults). Every variant evolves on the training part of
`validation_split(digits, 0.15, seed)` (fitness on its first `fitness_samples` images) and
its best genome is scored on the validation part. The test split is not read. The last line
is JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evolve import evolve_and_score  # noqa: E402
from spikeloom.data import load_dataset  # noqa: E402
from spikeloom.measure.splits import validation_split  # noqa: E402
from spikeloom.spec import ModelConfig  # noqa: E402
from spikeloom.train.evolve import EvolveConfig  # noqa: E402


def parse_variant(text: str) -> tuple[str, dict]:
    """'name:key=value,...' -> (name, {field: value}) with values typed like the defaults."""
    name, _, body = text.partition(":")
    defaults = EvolveConfig().to_dict()
    kw = {}
    for item in filter(None, body.split(",")):
        key, _, value = item.partition("=")
        if key not in defaults:
            raise SystemExit(f"unknown EvolveConfig field {key!r}; one of {', '.join(defaults)}")
        kind = type(defaults[key])
        kw[key] = value if kind is str else kind(float(value))
    return name or "defaults", kw


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variants", nargs="*", default=[":"])
    ap.add_argument("--generations", type=int, default=60)
    ap.add_argument("--population", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    selection = validation_split(load_dataset("digits"), 0.15, seed=args.seed)
    base = ModelConfig(topology=(64, 10, 10), timesteps=10, threshold=1.0, beta=0.95)
    rows = []
    for name, kw in [parse_variant(v) for v in args.variants]:
        ec = EvolveConfig(population=args.population, generations=args.generations, workers=1,
                          **{"size_penalty": 0.0, **kw})
        run, best, val, wall = evolve_and_score(base, ec, selection, args.seed)  # x_test: validation
        rows.append({"variant": name, "overrides": kw, "validation_accuracy": val,
                     "fitness_accuracy": run.scores[run.best][1], "hidden": best.hidden,
                     "synapses": best.synapses, "wall_seconds": wall})
        print(f"{name}: validation {val:.4f} (fitness accuracy {run.scores[run.best][1]:.4f}), "
              f"{best.hidden} hidden, {best.synapses} synapses, {wall:.0f} s", flush=True)
    print(json.dumps({"benchmark": "evolve_sweep", "dataset": "digits", "split": "validation 0.15",
                      "generations": args.generations, "population": args.population, "seed": args.seed,
                      "results": rows, "machine": f"{platform.machine()} torch {torch.__version__}"}))


if __name__ == "__main__":
    main()
