"""Executor overhead: one fault campaign in process vs 2 local worker processes vs a 2-worker
local Ray cluster (127.0.0.1), all in this one run on the same model and trials.

    python benchmarks/executor_overhead.py [--trials 40] [--samples 1000] [--engine auto] [--nas-trials 6]

Model: a 784-128-64-10 SNN (T=25), trained briefly on Fashion-MNIST when the files are there,
else untrained on synthetic images of that shape (only the throughput is measured). Each
executor runs the same model-wise int8 bit-flip campaign (BER 1e-3 and 1e-2); its wall time
includes starting the workers (spawning processes, starting Ray) and building the engine in
each worker. `identical` says whether every trial's accuracy equals the in-process run's.
On a machine with 2 cores, 2 workers cannot beat one process that already uses both cores
with its own threads: the figure is the executor's overhead (ratio = in-process trials/s
over the other's).

Then the same for an architecture search (`--nas-trials`, default 6, 0 skips it): random
strategy on digits, a small space, 1 epoch on 600 images per trial, each executor in a fresh
folder (workers started inside the timing); `identical` says whether every trial's
evaluation equals the in-process run's. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import torch

from spikeloom.data import load_dataset
from spikeloom.errors import DataError
from spikeloom.executor import ExecutorConfig, executor_session
from spikeloom.faults import CampaignConfig, run_campaign
from spikeloom.faults.fast import ENGINES
from spikeloom.quant import apply_quantized, quantize_model
from spikeloom.snn import build_model
from spikeloom.spec import ModelConfig, TrainConfig
from spikeloom.train import fit

TOPOLOGY = (784, 128, 64, 10)


def get_model(samples: int, seed: int):
    cfg = ModelConfig(topology=TOPOLOGY, timesteps=25, threshold=1.0)
    try:
        data = load_dataset("fashion-mnist")
    except DataError:
        gen = torch.Generator().manual_seed(seed)
        x = torch.rand(samples, 784, generator=gen) * (torch.rand(samples, 784, generator=gen) < 0.5)
        y = torch.randint(0, 10, (samples,), generator=gen)
        model = build_model(cfg).eval()
        with torch.no_grad():
            for fc in model.fcs:
                fc.weight.mul_(4.0)  # so that the untrained network spikes
        return model, cfg, x, y, "untrained, synthetic images"
    tcfg = TrainConfig(dataset="fashion-mnist", epochs=1, batch_size=128, lr=2e-3,
                       train_subset=5000, seed=seed)
    model = fit(cfg, tcfg, data).checkpoint.build()
    return model, cfg, data.x_test[:samples], data.y_test[:samples], "trained 1 epoch on 5000 images"


NAS_SPACE = {"depth": [1, 2], "widths": [16, 32], "timesteps": [5], "bits": [4, 8],
             "sparsity": [0.0, 0.5], "threshold": [1.0], "beta": [0.9], "reset": ["subtract"]}


def nas_runs(trials: int, workers: int, seed: int) -> dict[str, dict]:
    """Seconds and trials/s of one small architecture search per executor."""
    import tempfile  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from spikeloom.search.nas import EvalSettings, NasConfig, run_nas, space_from_dict  # noqa: PLC0415

    data = load_dataset("digits")
    ncfg = NasConfig(strategy="random", objectives=("accuracy", "energy", "memory"), n_trials=trials,
                     seed=seed, space=space_from_dict(NAS_SPACE, "benchmark space"),
                     settings=EvalSettings(epochs=1, train_subset=600, seed=seed))
    runs: dict[str, dict] = {}
    baseline = None
    for kind in ("inprocess", "processes", "ray"):
        executor = ExecutorConfig(kind, workers=None if kind == "inprocess" else workers, object_store_mb=256)
        with tempfile.TemporaryDirectory(prefix="nas-overhead-") as out:
            try:
                start = time.perf_counter()
                with executor_session(executor):
                    result = run_nas(ncfg, data, Path(out), executor=executor)
                seconds = time.perf_counter() - start
            except Exception as exc:  # noqa: BLE001 - Ray missing: report and go on
                print(f"nas {kind}: skipped ({exc})", flush=True)
                continue
        evals = [(e.key, e.objectives) for e in result.trials]
        baseline = evals if baseline is None else baseline
        runs[kind] = {"seconds": round(seconds, 2), "trials_per_s": round(trials / seconds, 3),
                      "identical": evals == baseline}
        print(f"nas {kind:<10} {seconds:7.1f} s  {runs[kind]['trials_per_s']:.3f} trials/s  "
              f"identical {runs[kind]['identical']}  load {load()}", flush=True)
    return runs


def ratios(runs: dict[str, dict]) -> dict[str, float | None]:
    base = runs["inprocess"]["trials_per_s"]
    return {f"ratio_inprocess_over_{k}": round(base / runs[k]["trials_per_s"], 2) if k in runs else None
            for k in ("processes", "ray")}


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=40, help="trials per BER (default 40)")
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--engine", default="auto", choices=ENGINES)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=11, help="training and campaign seed")
    p.add_argument("--nas-trials", type=int, default=6, help="architecture-search trials (0: skip)")
    args = p.parse_args(argv)
    model, cfg, x, y, origin = get_model(args.samples, args.seed)
    qmodel = apply_quantized(model, quantize_model(model, 8))
    cc = CampaignConfig(bers=(1e-3, 1e-2), trials=args.trials, engine=args.engine, seed=args.seed)
    print(f"model {cfg.name} ({origin}); {len(y)} images; engine {args.engine}; "
          f"{2 * args.trials} trials; load {load()}", flush=True)
    # warm the engine's JIT caches (numba) once, outside the timings
    run_campaign(qmodel, cfg, x[:100], y[:100], cc.replace(trials=1), eval_seed=0)
    runs: dict[str, dict] = {}
    baseline = None
    for kind in ("inprocess", "processes", "ray"):
        executor = ExecutorConfig(kind, workers=None if kind == "inprocess" else args.workers,
                                  object_store_mb=256)
        try:
            start = time.perf_counter()
            with executor_session(executor):
                result = run_campaign(qmodel, cfg, x, y, cc, eval_seed=0, executor=executor)
            seconds = time.perf_counter() - start
        except Exception as exc:  # noqa: BLE001 - Ray missing: report and go on
            print(f"{kind}: skipped ({exc})", flush=True)
            continue
        accs = [r.accuracies for r in result.results]
        baseline = accs if baseline is None else baseline
        runs[kind] = {"seconds": round(seconds, 2),
                      "trials_per_s": round(2 * args.trials / seconds, 3),
                      "identical": accs == baseline}
        print(f"{kind:<10} {seconds:7.1f} s  {runs[kind]['trials_per_s']:.2f} trials/s  "
              f"identical {runs[kind]['identical']}  load {load()}", flush=True)
    nas = nas_runs(args.nas_trials, args.workers, args.seed) if args.nas_trials > 0 else {}
    identical = all(r["identical"] for r in [*runs.values(), *nas.values()])
    print(json.dumps({
        "benchmark": "executor_overhead", "model": cfg.name, "samples": len(y),
        "trials": 2 * args.trials, "engine": args.engine, "workers": args.workers, "runs": runs,
        **ratios(runs),
        "nas": {"trials": args.nas_trials, "runs": nas, **ratios(nas)} if nas else None,
        "identical": identical,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "load_at_end": load(),
    }))
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
