"""STDP (Diehl & Cook style): test accuracy against the number of excitatory neurons.

    python benchmarks/stdp.py [--neurons 100,400] [--timesteps 20] [--digits-epochs 3]
                              [--fashion-subset 10000] [--fashion-epochs 1]

For digits (embedded) and Fashion-MNIST (when its files are present) and each neuron count,
trains `train_stdp` from scratch (seed --seed, batch 32) and reports two accuracies on the
whole test split: `wta` (the frozen training network with its lateral inhibition, the
neurons labelled on training data and a vote, as Diehl & Cook measure) and `exported` (the
feed-forward checkpoint `spikeloom eval` runs), with the training wall time and the device.
The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import platform

import torch

from spikeloom.data import load_dataset
from spikeloom.errors import DataError
from spikeloom.measure import resolve_device
from spikeloom.spec import ModelConfig, TrainConfig
from spikeloom.train.stdp import StdpConfig, train_stdp


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--neurons", default="100,400")
    ap.add_argument("--timesteps", type=int, default=20)
    ap.add_argument("--digits-epochs", type=int, default=3)
    ap.add_argument("--fashion-subset", type=int, default=10000)
    ap.add_argument("--fashion-epochs", type=int, default=1)
    ap.add_argument("--label-samples", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (default 1: small matmuls on a shared machine)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device()
    runs = [("digits", args.digits_epochs, None)]
    try:
        load_dataset("fashion-mnist")
        runs.append(("fashion-mnist", args.fashion_epochs, args.fashion_subset))
    except DataError:
        print("fashion-mnist not found: digits only")
    rows = []
    for name, epochs, subset in runs:
        data = load_dataset(name)
        for n in (int(v) for v in args.neurons.split(",")):
            cfg = ModelConfig(topology=(data.input_size, n, data.num_classes), timesteps=args.timesteps)
            tcfg = TrainConfig(dataset=name, epochs=epochs, batch_size=32, seed=args.seed, train_subset=subset)
            r = train_stdp(cfg, tcfg, StdpConfig(), data, device, label_samples=args.label_samples)
            row = {"dataset": name, "neurons": n, "epochs": epochs,
                   "train_samples": subset or len(data.x_train), "timesteps": args.timesteps,
                   "wta_test_accuracy": r.wta_test_accuracy, "exported_test_accuracy": r.test_accuracy,
                   "train_seconds": r.train_seconds}
            rows.append(row)
            print(f"{name:14s} N={n:4d}  wta {r.wta_test_accuracy:.4f}  exported {r.test_accuracy:.4f}  "
                  f"{r.train_seconds:.1f} s")
    print(json.dumps({"benchmark": "stdp", "device": str(device), "results": rows,
                      "machine": f"{platform.machine()} torch {torch.__version__}",
                      "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
