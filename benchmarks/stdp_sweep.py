"""How the STDP defaults (`StdpConfig`) were chosen: a small sweep scored on VALIDATION data.

    python benchmarks/stdp_sweep.py [--seed 0] [--fashion-subset 2000] [--fashion-val 2000]

Every run trains `train_stdp` on the training part of a validation split carved from the
training data (`spikeloom.measure.validation_split`, 15 %, split seed --seed) and measures
both readings (the WTA vote with inhibition, and the exported feed-forward checkpoint) on its
validation part; the test split is never read. Score of a setting = the mean of the two
readings over digits (N = 100, 3 epochs; all 216 validation images) and Fashion-MNIST
(N = 100, 1 epoch of --fashion-subset images, the first --fashion-val of its 9,000 validation
images; skipped when its files are absent).

Search: one pass of coordinate descent from the previous defaults, in the order of VALUES
below; each parameter takes the value with the best score (ties keep the current value)
before the next is tried. The last line is JSON with every run and the chosen setting.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time

import torch

from spikeloom.data import load_dataset
from spikeloom.errors import DataError
from spikeloom.measure import resolve_device, validation_split
from spikeloom.spec import ModelConfig, TrainConfig
from spikeloom.train.stdp import StdpConfig, train_stdp

# The values tried per parameter (the previous default is in each list).
VALUES: dict[str, tuple[float, ...]] = {
    "threshold": (2.5, 5.0, 10.0),
    "theta_plus": (0.1, 0.3, 1.0),
    "x_tar": (0.4, 0.6, 0.8),
    "eta_post": (0.002, 0.005, 0.01),
    "inhibition": (5.0, 20.0, 50.0),
}
START = StdpConfig(threshold=5.0, theta_plus=0.3, x_tar=0.6, eta_post=0.005, inhibition=20.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0, help="training and split seed (default 0)")
    ap.add_argument("--neurons", type=int, default=100)
    ap.add_argument("--timesteps", type=int, default=20)
    ap.add_argument("--fashion-subset", type=int, default=2000)
    ap.add_argument("--fashion-val", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device()
    tasks = [("digits", 3, None)]
    try:
        load_dataset("fashion-mnist")
        tasks.append(("fashion-mnist", 1, args.fashion_subset))
    except DataError:
        print("fashion-mnist not found: digits only")
    splits = {name: validation_split(load_dataset(name), 0.15, args.seed) for name, _, _ in tasks}
    if "fashion-mnist" in splits:
        sel = splits["fashion-mnist"]
        splits["fashion-mnist"] = dataclasses.replace(sel, x_test=sel.x_test[: args.fashion_val],
                                                      y_test=sel.y_test[: args.fashion_val])
    runs: list[dict] = []
    cache: dict[str, float] = {}

    def score(sc: StdpConfig) -> float:
        key = json.dumps(sc.to_dict(), sort_keys=True)
        if key in cache:
            return cache[key]
        readings = []
        for name, epochs, subset in tasks:
            sel = splits[name]
            cfg = ModelConfig(topology=(sel.input_size, args.neurons, sel.num_classes), timesteps=args.timesteps)
            tcfg = TrainConfig(dataset=name, epochs=epochs, batch_size=32, seed=args.seed, train_subset=subset)
            t0 = time.perf_counter()
            r = train_stdp(cfg, tcfg, sc, sel, device, label_samples=5000)
            runs.append({"dataset": name, "setting": sc.to_dict(), "val_wta": r.wta_test_accuracy,
                         "val_exported": r.test_accuracy, "seconds": round(time.perf_counter() - t0, 1)})
            readings += [r.wta_test_accuracy, r.test_accuracy]
        cache[key] = sum(readings) / len(readings)
        print(f"{sc.threshold:5g} {sc.theta_plus:5g} {sc.x_tar:4g} {sc.eta_post:6g} {sc.inhibition:5g}  "
              f"validation score {cache[key]:.4f}  ({', '.join(f'{v:.3f}' for v in readings)})", flush=True)
        return cache[key]

    best = START
    best_score = score(best)
    for param, values in VALUES.items():
        for v in values:
            trial = best.replace(**{param: v})
            s = score(trial)
            if s > best_score:
                best, best_score = trial, s
    chosen = {k: getattr(best, k) for k in VALUES}
    print(json.dumps({"benchmark": "stdp_sweep", "selection": "validation split (15 %) of the training data",
                      "seed": args.seed, "start": {k: getattr(START, k) for k in VALUES}, "chosen": chosen,
                      "start_score": cache[json.dumps(START.to_dict(), sort_keys=True)], "chosen_score": best_score,
                      "runs": runs, "device": str(device), "machine": platform.platform()}))


if __name__ == "__main__":
    main()
