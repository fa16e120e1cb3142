"""Benchmarks of the architecture search (issue 7). Each experiment writes a JSON file.

    python benchmarks/nas.py correlation --dataset digits --n 12 --out bench/nas
    python benchmarks/nas.py strategies --dataset digits --n-trials 10 --seeds 0 1 2 --out bench/nas
    python benchmarks/nas.py proxy-time --dataset digits --out bench/nas
    python benchmarks/nas.py coexplore --dataset fashion-mnist --epochs 15 --n-trials 20 --out bench/nas

Times are sums of per-evaluation compute seconds (cache-independent); the machine is shared,
so absolute seconds are noisy.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from spikeloom.data import load_dataset
from spikeloom.io import atomic_write_json
from spikeloom.search.nas.fidelity import FidelityConfig, rank_correlation
from spikeloom.search.nas.hypervolume import as_minimization, hypervolume, normalized, reference_box
from spikeloom.search.nas.objectives import OBJECTIVES, EvalSettings, evaluate_architecture
from spikeloom.search.nas.space import Architecture, architecture_at, space_from_dict
from spikeloom.search.nas.study import NasConfig, front_of, objective_vector, run_nas

# powers of two from 64x16 up to 1024x128: TOP2's 784-input neurons fit one crossbar unpruned
COEXPLORE_LIBRARY = "1024x128,1024x64,512x128,512x64,256x128,256x64,128x64,128x32,64x32,64x16"
DIGITS_SPACE = {"depth": [1, 2], "widths": [16, 32, 64], "timesteps": [4, 8], "threshold": [0.5, 1.0],
                "beta": [0.9], "reset": ["subtract"], "bits": [4, 8], "sparsity": [0.0, 0.5],
                "library": ["homogeneous:64x64"]}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def correlation(args: argparse.Namespace) -> dict[str, Any]:
    data = load_dataset(args.dataset)
    space = space_from_dict({**DIGITS_SPACE, "library": [args.corr_library]})
    rng = random.Random(args.seed)
    archs = [architecture_at(space, i) for i in rng.sample(range(space.grid_size()), args.n)]
    settings = EvalSettings(epochs=args.epochs, train_subset=args.train_subset, eval_samples=args.eval_samples,
                            seed=args.seed)
    low = FidelityConfig(kind="low").low_overrides(args.epochs, args.train_subset)
    out = Path(args.out) / f"corr-{args.dataset}"
    rows = []
    for a in archs:
        f = evaluate_architecture(a, data, settings, out, ("accuracy",), "full")
        lo = evaluate_architecture(a, data, settings, out, ("accuracy",), "low", low)
        px = evaluate_architecture(a, data, settings, out, ("accuracy",), "proxy")
        rows.append({"label": a.label, "full": f.objectives["accuracy"], "low": lo.score, "sahd": px.score,
                     "full_s": f.seconds, "low_s": lo.seconds, "proxy_s": px.seconds})
        log(f"{a.label}: full {f.objectives['accuracy']:.3f} low {lo.score} sahd {px.score}")
    full = [r["full"] for r in rows]
    return {"dataset": args.dataset, "n": len(rows), "epochs": args.epochs, "train_subset": args.train_subset,
            "library": args.corr_library,
            "sahd": rank_correlation([r["sahd"] for r in rows], full),
            "low": rank_correlation([r["low"] for r in rows], full),
            "seconds": {k: sum(r[k] for r in rows) for k in ("full_s", "low_s", "proxy_s")}, "rows": rows}


def _points(evals, names):
    dirs = [OBJECTIVES[n] for n in names]
    return [as_minimization(objective_vector(e, names), dirs) for e in evals]


def strategies(args: argparse.Namespace) -> dict[str, Any]:
    data = load_dataset(args.dataset)
    space = space_from_dict(DIGITS_SPACE)
    settings = EvalSettings(epochs=args.epochs, train_subset=args.train_subset, eval_samples=args.eval_samples)
    names = ("accuracy", "energy", "area")
    out = Path(args.out) / f"strategies-{args.dataset}"  # shared cache: equal architectures train once
    runs: dict[str, list[list[tuple[float, ...]]]] = {}
    for strat in args.strategies:
        for seed in args.seeds:
            ncfg = NasConfig(dataset=data.name, strategy=strat, objectives=names, n_trials=args.n_trials,
                             seed=seed, space=space, settings=settings.replace(seed=0))
            res = run_nas(ncfg, data, out)
            runs.setdefault(strat, []).append(_points(res.final, names))
            log(f"{strat} seed {seed}: {len(res.final)} evaluations")
    everything = [p for rs in runs.values() for r in rs for p in r]
    ideal, nadir = reference_box(everything)
    table = {}
    for strat, rs in runs.items():
        hvs = [hypervolume(normalized(r, ideal, nadir), (1.0,) * len(names)) for r in rs]
        table[strat] = {"hypervolume": hvs, "mean": statistics.mean(hvs),
                        "std": statistics.stdev(hvs) if len(hvs) > 1 else 0.0}
    return {"dataset": args.dataset, "n_trials": args.n_trials, "seeds": args.seeds, "objectives": list(names),
            "epochs": args.epochs, "ideal": list(ideal), "nadir": list(nadir), "strategies": table}


def proxy_time(args: argparse.Namespace) -> dict[str, Any]:
    data = load_dataset(args.dataset)
    space = space_from_dict({**DIGITS_SPACE, "library": [args.corr_library]})
    settings = EvalSettings(epochs=args.epochs, train_subset=args.train_subset, eval_samples=args.eval_samples)
    names = ("accuracy", "energy", "area")
    out = Path(args.out) / f"proxytime-{args.dataset}"
    res = {}
    for kind, n_trials, fid in (("full", args.full_trials, FidelityConfig()),
                                ("proxy", args.proxy_trials, FidelityConfig(kind="proxy", promote=args.promote,
                                                                            validate=0))):
        per_seed = []
        for seed in args.seeds:
            ncfg = NasConfig(dataset=data.name, strategy="random", objectives=names, n_trials=n_trials,
                             seed=seed, space=space, settings=settings, fidelity=fid)
            r = run_nas(ncfg, data, out)
            seconds = sum(e.seconds for e in r.final) + (sum(e.seconds for e in r.trials) if kind == "proxy" else 0)
            per_seed.append({"seed": seed, "points": _points(r.final, names), "compute_seconds": seconds,
                             "full_trainings": len({e.key for e in r.final})})
            log(f"{kind} seed {seed}: {seconds:.1f} s")
        res[kind] = per_seed
    everything = [p for v in res.values() for s in v for p in s["points"]]
    ideal, nadir = reference_box(everything)
    for v in res.values():
        for s in v:
            s["hypervolume"] = hypervolume(normalized(s.pop("points"), ideal, nadir), (1.0,) * len(names))
    return {"dataset": args.dataset, "full_trials": args.full_trials, "proxy_trials": args.proxy_trials,
            "promote": args.promote, "runs": res}


def float_test_accuracy(ev: Any, data: Any, seed: int) -> float:
    """Test accuracy of the trained float network before pruning, fine-tune and quantization."""
    from spikeloom.measure import evaluate  # noqa: PLC0415
    from spikeloom.snn.checkpoint import load_checkpoint  # noqa: PLC0415

    ckpt = load_checkpoint(ev.checkpoint)
    return evaluate(ckpt.build().eval(), ckpt.model_config, data.x_test, data.y_test, seed=seed)


def coexplore(args: argparse.Namespace) -> dict[str, Any]:
    """TOP2 (784-128-64-10, int8, no sparsity) and a NAS over accuracy + area on one crossbar
    library, identical training settings. The candidate is selected on validation accuracy
    (the front member under 70 % of TOP2's area with the best validation accuracy); the goal
    is judged on test accuracy."""
    data = load_dataset(args.dataset)
    lib = args.library
    settings = EvalSettings(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                            lr_schedule=args.lr_schedule, train_subset=args.train_subset,
                            eval_samples=args.eval_samples, map_time_limit=args.map_time_limit)
    out = Path(args.out) / f"coexplore-{args.dataset}"
    neuron = {"timesteps": args.timesteps, "threshold": 1.0, "beta": args.beta, "reset": "subtract",
              "surrogate": "fast_sigmoid", "slope": 25.0, "encoding": "rate", "library": lib}
    top2 = Architecture(hidden=(128, 64), bits=(8, 8, 8), sparsity=(0.0, 0.0, 0.0), **neuron)
    names = ("accuracy", "area")
    base = evaluate_architecture(top2, data, settings, out, names, "full")
    base_float = float_test_accuracy(base, data, settings.seed)
    log(f"TOP2: {base.objectives} test {base.test_accuracy} (float, unpruned: {base_float})")
    capped = None
    if args.capped_library:  # TOP2 forced onto a library whose crossbars cannot hold 784 inputs
        ev = evaluate_architecture(top2.replace(library=args.capped_library), data, settings, out, names, "full")
        capped = {"library": args.capped_library, "objectives": ev.objectives, "test_accuracy": ev.test_accuracy,
                  "float_test_accuracy": float_test_accuracy(ev, data, settings.seed)}
        log(f"TOP2 on {args.capped_library}: {ev.objectives} test {ev.test_accuracy}")
    widths = [args.widths, args.widths2] if args.widths2 else args.widths
    space = space_from_dict({"depth": args.depths, "widths": widths, "bits": args.bits,
                             "sparsity": args.sparsity, **{k: [v] for k, v in neuron.items()}})
    ncfg = NasConfig(dataset=data.name, strategy=args.strategy, objectives=names, n_trials=args.n_trials,
                     seed=args.seed, space=space, settings=settings)
    res = run_nas(ncfg, data, out, log=log)
    front = [res.final[i] for i in front_of(ncfg, res.final)]
    limit = (1 - args.area_saving) * base.objectives["area"]
    small = [e for e in front if e.objectives["area"] <= limit]
    chosen = max(small, key=lambda e: (e.objectives["accuracy"], -e.objectives["area"])) if small else None

    def row(e):
        return {"label": e.arch.label, "objectives": e.objectives, "test_accuracy": e.test_accuracy,
                "float_test_accuracy": float_test_accuracy(e, data, settings.seed),
                "area_saving": 1 - e.objectives["area"] / base.objectives["area"],
                "test_delta": e.test_accuracy - base.test_accuracy, "hardware": e.hardware}

    selected = row(chosen) if chosen else None
    return {"dataset": args.dataset, "library": lib, "epochs": args.epochs, "train_subset": args.train_subset,
            "batch_size": args.batch_size, "lr": args.lr, "lr_schedule": args.lr_schedule,
            "timesteps": args.timesteps, "beta": args.beta, "n_trials": args.n_trials, "strategy": args.strategy,
            "space": space.to_dict(), "samples": {"train": len(data.x_train), "test": len(data.x_test),
                                                  "val_fraction": settings.val_fraction},
            "top2": {"objectives": base.objectives, "test_accuracy": base.test_accuracy,
                     "float_test_accuracy": base_float, "hardware": base.hardware},
            "top2_capped": capped,
            "trials": [{"label": e.arch.label, "objectives": e.objectives, "test_accuracy": e.test_accuracy}
                       for e in res.final],
            "front": [row(e) for e in front], "selected": selected,
            "goal": {"area_saving": args.area_saving, "max_drop": args.max_drop,
                     "met": bool(selected and selected["test_delta"] >= -args.max_drop)},
            "search_seconds": res.study_seconds}


def _fmt(v: Any, nd: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{nd}f}"


def markdown(out: Path) -> str:
    """Markdown tables of whatever experiment JSON files exist under `out`."""
    import json  # noqa: PLC0415

    lines: list[str] = []
    for path in sorted(out.glob("correlation-*.json")):
        r = json.loads(path.read_text())
        lines += [f"Rank correlation with fully trained validation accuracy, {r['dataset']}, n = {r['n']} "
                  f"random architectures ({r['epochs']} epochs; `{r['command']}`):", "",
                  "| cheap evaluator | Kendall tau (p) | Spearman rho (p) | compute s, all n |", "|---|---|---|---|"]
        for key, name, sec in (("sahd", "SAHD at init", "proxy_s"), ("low", "low fidelity", "low_s")):
            c = r[key]
            lines.append(f"| {name} | {_fmt(c['kendall_tau'])} ({_fmt(c['kendall_p'])}) | "
                         f"{_fmt(c['spearman'])} ({_fmt(c['spearman_p'])}) | {r['seconds'][sec]:.0f} |")
        lines += [f"| full training (reference) | 1 | 1 | {r['seconds']['full_s']:.0f} |", ""]
    for path in sorted(out.glob("strategies-*.json")):
        r = json.loads(path.read_text())
        lines += [f"Hypervolume ({', '.join(r['objectives'])}; normalised, common reference box) after "
                  f"{r['n_trials']} trials, seeds {r['seeds']} (`{r['command']}`):", "",
                  "| strategy | mean | std | per seed |", "|---|---|---|---|"]
        for name, t in r["strategies"].items():
            lines.append(f"| {name} | {t['mean']:.4f} | {t['std']:.4f} | {', '.join(f'{v:.4f}' for v in t['hypervolume'])} |")
        lines.append("")
    for path in sorted(out.glob("proxy-time-*.json")):
        r = json.loads(path.read_text())
        lines += [f"Proxy pre-ranking vs full-fidelity random search (`{r['command']}`):", "",
                  "| mode | seed | full trainings | compute s | hypervolume |", "|---|---|---|---|---|"]
        for kind, runs in r["runs"].items():
            for s in runs:
                lines.append(f"| {kind} | {s['seed']} | {s['full_trainings']} | {s['compute_seconds']:.0f} | "
                             f"{s['hypervolume']:.4f} |")
        lines.append("")
    for path in sorted(out.glob("coexplore-*.json")):
        r = json.loads(path.read_text())
        t = r["top2"]
        lines += [f"Co-exploration on {r['dataset']} (train subset {r['train_subset']}, {r['epochs']} epochs, "
                  f"T={r['timesteps']}, library `{r['library']}`, {r['strategy']} {r['n_trials']} trials; "
                  f"`{r['command']}`):", "",
                  "| network | area (cells) | area saving vs TOP2 | val accuracy | test accuracy | float test |",
                  "|---|---|---|---|---|---|",
                  f"| TOP2 784-128-64-10 int8 | {t['objectives']['area']:.0f} | 0 | "
                  f"{t['objectives']['accuracy']:.4f} | {t['test_accuracy']:.4f} | {_fmt(t.get('float_test_accuracy'), 4)} |"]
        for e in r["front"]:
            lines.append(f"| {e['label']} | {e['objectives']['area']:.0f} | {100 * e['area_saving']:.1f} % | "
                         f"{e['objectives']['accuracy']:.4f} | {e['test_accuracy']:.4f} | "
                         f"{_fmt(e.get('float_test_accuracy'), 4)} |")
        sel = r.get("selected")
        lines += ["", "Goal (>= 30 % less area, <= 1 point less test accuracy): "
                  + (f"{'met' if r['goal']['met'] else 'not met'} by the validation-selected {sel['label']} "
                     f"({100 * sel['area_saving']:.1f} % less area, {100 * sel['test_delta']:+.2f} points test)"
                     if sel else "not met (no front member under the area limit)"), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("experiment", choices=("correlation", "strategies", "proxy-time", "coexplore", "markdown"))
    p.add_argument("--dataset", default="digits")
    p.add_argument("--out", default="bench/nas")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--n", type=int, default=12)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--train-subset", type=int, default=None)
    p.add_argument("--eval-samples", type=int, default=None)
    p.add_argument("--n-trials", type=int, default=10)
    p.add_argument("--strategies", nargs="+", default=["random", "evolution", "tpe"])
    p.add_argument("--full-trials", type=int, default=12)
    p.add_argument("--proxy-trials", type=int, default=24)
    p.add_argument("--promote", type=int, default=4)
    p.add_argument("--strategy", default="tpe")
    p.add_argument("--timesteps", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-schedule", default="cosine", choices=("constant", "cosine"))
    p.add_argument("--beta", type=float, default=0.95)
    p.add_argument("--library", default=COEXPLORE_LIBRARY,
                   help="coexplore: crossbar library (default: its largest crossbars hold 784 inputs)")
    p.add_argument("--capped-library", default=None,
                   help="coexplore: also measure TOP2 on this library (pruned to its largest fan-in)")
    p.add_argument("--depths", type=int, nargs="+", default=[1, 2])
    p.add_argument("--widths", type=int, nargs="+", default=[32, 64, 128])
    p.add_argument("--widths2", type=int, nargs="+", default=None, help="coexplore: second hidden layer widths")
    p.add_argument("--bits", type=int, nargs="+", default=[8])
    p.add_argument("--sparsity", type=float, nargs="+", default=[0.0, 0.5, 0.75])
    p.add_argument("--area-saving", type=float, default=0.3)
    p.add_argument("--max-drop", type=float, default=0.01)
    p.add_argument("--map-time-limit", type=float, default=0.3)
    p.add_argument("--corr-library", default="homogeneous:64x64",
                   help="correlation, proxy-time: crossbar library (its input count caps the fan-in; 1024x64 for 784 pixels)")
    args = p.parse_args(argv)
    if args.experiment == "markdown":
        print(markdown(Path(args.out)))
        return 0
    fn = {"correlation": correlation, "strategies": strategies, "proxy-time": proxy_time,
          "coexplore": coexplore}[args.experiment]
    t0 = time.perf_counter()
    result = fn(args)
    result["wall_seconds"] = time.perf_counter() - t0
    result["command"] = "python benchmarks/nas.py " + " ".join(argv if argv is not None else sys.argv[1:])
    path = Path(args.out) / f"{args.experiment}-{args.dataset}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, result)
    log(f"-> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
