"""Fault-campaign engines: reference vs fast on a 784-128-64-10 SNN (T=25), 10,000 test images.

    python benchmarks/fault_campaign.py [--model CKPT] [--epochs 1] [--trials 20]

Without --model it trains the SNN briefly on Fashion-MNIST (or, when the dataset is absent,
uses an untrained model on synthetic images of that shape). Both engines run the same
model-wise int8 bit-flip campaign (BER 1e-4 and 1e-3, 20 trials each) in this one process;
the last line is JSON with `speedup` (reference wall time / fast wall time) and `identical`
(every trial's accuracy equal).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
import time

import torch

from spikeloom.data import load_dataset
from spikeloom.errors import DataError
from spikeloom.faults import CampaignConfig, run_campaign
from spikeloom.faults.campaign import ENGINES
from spikeloom.quant import apply_quantized, quantize_model
from spikeloom.snn import build_model, load_checkpoint
from spikeloom.spec import ModelConfig, TrainConfig
from spikeloom.train import fit

TOPOLOGY = (784, 128, 64, 10)


def get_model(args: argparse.Namespace):
    cfg = ModelConfig(topology=TOPOLOGY, timesteps=25, threshold=1.0)
    try:
        data = load_dataset("fashion-mnist")
    except DataError:
        data = None
    if args.model:
        ckpt = load_checkpoint(args.model)
        return ckpt.build(), ckpt.model_config, data, f"checkpoint {args.model}"
    if data is None:
        torch.manual_seed(0)
        x = torch.rand(args.samples, 784) * (torch.rand(args.samples, 784) < 0.5)
        y = torch.randint(0, 10, (args.samples,))
        model = build_model(cfg).eval()
        with torch.no_grad():
            for fc in model.fcs:
                fc.weight.mul_(4.0)  # so that the untrained network spikes
        return model, cfg, (x, y), "untrained, synthetic images"
    tcfg = TrainConfig(dataset="fashion-mnist", epochs=args.epochs, batch_size=128, lr=2e-3,
                       train_subset=args.train_subset)
    res = fit(cfg, tcfg, data, args.cache)
    return res.checkpoint.build(), cfg, data, (f"trained {args.epochs} epoch(s) on "
                                               f"{args.train_subset or 60000} images")


def cpu_name() -> str:
    """The CPU model and its widest vector unit: the reference's fp32 products run about twice
    as fast with AVX-512, so the ratio depends on it."""
    try:
        info = open("/proc/cpuinfo").read()
    except OSError:
        return platform.processor() or platform.machine()
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines()
                 if line.startswith("model name")), platform.machine())
    return f"{name} ({'avx512' if ' avx512f' in info else 'avx2' if ' avx2' in info else 'no avx2'})"


def timed(model, cfg, x, y, engine: str, trials: int, bers=(1e-4, 1e-3)):
    cc = CampaignConfig(bers=bers, trials=trials, scope="model", engine=engine)
    wall, cpu = time.perf_counter(), time.process_time()
    res = run_campaign(model, cfg, x, y, cc, eval_seed=0)
    return res, time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="SNN checkpoint (784-128-64-10, T=25)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--train-subset", type=int, default=20000)
    p.add_argument("--cache", default="runs/bench/fault_campaign_top2_t25.pt", help="trained model cache")
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--samples", type=int, default=10000)
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads (default torch's choice; 1 on a shared, oversubscribed "
                        "CPU, where waiting OpenMP threads burn time)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model, cfg, data, origin = get_model(args)
    if isinstance(data, tuple):
        x, y = data
    else:
        x, y = data.x_test[: args.samples], data.y_test[: args.samples]
    qmodel = apply_quantized(model, quantize_model(model, 8))  # int8 PTQ, shared by both
    print(f"model: {cfg.name} ({origin}); {len(y)} test images; device "
          f"{next(qmodel.parameters()).device}; {torch.get_num_threads()} threads", flush=True)
    # Warm-up on 200 images, 2 trials: the compiled engine's kernels are JIT-compiled on first
    # use and cached on disk (a cold cache costs about a minute once), torch warms its kernels,
    # and the statistics import scipy (from 2 trials on; it had landed in the fast engine's time).
    warm = {e: timed(qmodel, cfg, x[:200], y[:200], e, 2, (1e-3, 1e-1))[1] for e in ENGINES}
    print(f"warm-up:   fast {warm['fast']:.1f} s, reference {warm['reference']:.1f} s", flush=True)
    fast, fast_s, fast_cpu = timed(qmodel, cfg, x, y, "fast", args.trials)
    print(f"fast:      {fast_s:8.1f} s wall, {fast_cpu:8.1f} s CPU", flush=True)
    ref, ref_s, ref_cpu = timed(qmodel, cfg, x, y, "reference", args.trials)
    print(f"reference: {ref_s:8.1f} s wall, {ref_cpu:8.1f} s CPU", flush=True)
    identical = ref.clean_accuracy == fast.clean_accuracy and all(
        a.accuracies == b.accuracies and a.seeds == b.seeds for a, b in zip(ref.results, fast.results))
    for r in fast.results:
        print(f"  ber {r.ber:g}: mean accuracy {r.mean_accuracy:.4f} (clean {fast.clean_accuracy:.4f}), "
              f"reliability {r.reliability_pct:.2f}%, ci95 [{r.ci95[0]:.4f}, {r.ci95[1]:.4f}]")
    trials = sum(r.trials for r in ref.results)
    print(json.dumps({
        "benchmark": "fault_campaign", "model": cfg.name, "samples": len(y), "trials": trials,
        "bers": [1e-4, 1e-3], "reference_s": round(ref_s, 2), "fast_s": round(fast_s, 2),
        "reference_cpu_s": round(ref_cpu, 2), "fast_cpu_s": round(fast_cpu, 2),
        "reference_s_per_trial": round(ref_s / trials, 3), "fast_s_per_trial": round(fast_s / trials, 3),
        "speedup": round(ref_s / fast_s, 2), "cpu_speedup": round(ref_cpu / fast_cpu, 2),
        "identical": identical, "clean_accuracy": fast.clean_accuracy,
        "numba": importlib.util.find_spec("numba") is not None,
        "device": str(next(qmodel.parameters()).device), "threads": torch.get_num_threads(),
        "cpu": cpu_name(),
    }))
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
