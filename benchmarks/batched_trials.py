"""Batched vs unbatched fault trials: the batched engine (K fault masks stacked along a batch
axis, one forward pass) against the reference engine (one faulty model per trial, one forward
each), both plain torch, same model, trials and device, in this one run.

    python benchmarks/batched_trials.py [--trials 32] [--samples 1000] [--batch 16] [--device cpu]

Model as in benchmarks/executor_overhead.py (784-128-64-10 SNN, T=25). The campaign is
model-wise int8 bit flips at BER 1e-3 and 1e-2. `identical` says whether every trial's
accuracy agrees between the engines; `speedup` is reference wall time / batched wall time.
The auto engine (compiled/delta: not a plain forward pass) is timed too for context. The last
line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from executor_overhead import get_model, load  # noqa: E402
from spikeloom.faults import CampaignConfig, run_campaign  # noqa: E402
from spikeloom.faults import batched as batched_module  # noqa: E402
from spikeloom.quant import apply_quantized, quantize_model  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=32, help="trials per BER (default 32)")
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--batch", type=int, default=16, help="trials per forward pass (default 16)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--skip-fast", action="store_true", help="do not time the auto engine")
    args = p.parse_args(argv)
    batched_module.DEFAULT_BATCH = args.batch
    model, cfg, x, y, origin = get_model(args.samples, args.seed)
    qmodel = apply_quantized(model, quantize_model(model, 8)).to(args.device)
    cc = CampaignConfig(bers=(1e-3, 1e-2), trials=args.trials, seed=args.seed)
    print(f"model {cfg.name} ({origin}); {len(y)} images; {2 * args.trials} trials; "
          f"device {args.device}; {torch.get_num_threads()} threads; load {load()}", flush=True)
    engines = ["batched", "reference"] + ([] if args.skip_fast else ["auto"])
    for engine in engines:  # warm-up: kernels, JIT caches
        run_campaign(qmodel, cfg, x[:100], y[:100], cc.replace(trials=2, engine=engine))
    times, accs = {}, {}
    for engine in engines:
        start = time.perf_counter()
        result = run_campaign(qmodel, cfg, x, y, cc.replace(engine=engine))
        times[engine] = time.perf_counter() - start
        accs[engine] = [r.accuracies for r in result.results]
        print(f"{engine:<10} {times[engine]:7.1f} s  {2 * args.trials / times[engine]:.2f} trials/s"
              f"  load {load()}", flush=True)
    identical = all(a == accs["reference"] for a in accs.values())
    print(json.dumps({
        "benchmark": "batched_trials", "model": cfg.name, "samples": len(y),
        "trials": 2 * args.trials, "batch": args.batch, "device": args.device,
        "seconds": {k: round(v, 2) for k, v in times.items()},
        "trials_per_s": {k: round(2 * args.trials / v, 3) for k, v in times.items()},
        "speedup": round(times["reference"] / times["batched"], 2),
        "identical": identical, "threads": torch.get_num_threads(),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "load_at_end": load(),
    }))
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
