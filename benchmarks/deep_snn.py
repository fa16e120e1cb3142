"""Can the paper's deep topologies (TOP3 784-128-64-64-32-10, TOP4 784-512-256-256-128-10)
be trained here, and with which recipe? Scored on VALIDATION data only.

    python benchmarks/deep_snn.py [--topologies TOP4] [--configs C2] [--epochs 2]
                                  [--train-subset 20000] [--inits default rate] [--lrs 2e-3]

Each run trains with `fit` on the training part of `measure.validation_split` (10 %, seed 0,
the split `spikeloom reproduce` uses) and reports the float validation accuracy after
--epochs and the spikes per sample of every layer on 512 validation images; the test split is
never read. The recipe `spikeloom reproduce` uses was chosen from this table, so its test
figures are not tuned on. The last line is JSON with every run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import time

import torch

from spikeloom.data import load_dataset
from spikeloom.data.encoders import make_generator
from spikeloom.data.protocol import model_inputs
from spikeloom.measure import evaluate, validation_split
from spikeloom.reproduce.paper import CONFIGS, TOPOLOGIES
from spikeloom.snn.activity import record_spikes
from spikeloom.spec import ModelConfig, TrainConfig
from spikeloom.train import fit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="fashion-mnist")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--topologies", nargs="+", default=["TOP4"])
    ap.add_argument("--configs", nargs="+", default=["C2"])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--train-subset", type=int, default=20000)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--inits", nargs="+", default=["default", "rate"])
    ap.add_argument("--lrs", nargs="+", type=float, default=[2e-3])
    ap.add_argument("--readouts", nargs="+", default=["count"])
    ap.add_argument("--losses", nargs="+", default=["readout"], help="training losses (TrainConfig.loss)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="runs/deep-snn")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data = load_dataset(args.dataset, args.data_dir)
    sel = validation_split(data, 0.1, args.seed)
    xv = sel.x_test[:512]
    runs = []
    for top in args.topologies:
        for cname in args.configs:
            t, theta = CONFIGS[cname]
            for readout in args.readouts:
                cfg = ModelConfig(arch="snn", topology=TOPOLOGIES[top], timesteps=t, threshold=theta,
                                  readout=readout)
                for init, lr, loss in itertools.product(args.inits, args.lrs, args.losses):
                    tcfg = TrainConfig(dataset=data.name, epochs=args.epochs, batch_size=args.batch_size, lr=lr,
                                       seed=args.seed, train_subset=args.train_subset, weight_init=init, loss=loss)
                    t0 = time.perf_counter()
                    model = fit(cfg, tcfg, sel, f"{args.out}/{top}-{cname}-{readout}-{init}-{lr:g}-{loss}-e{args.epochs}.pt"
                                ).checkpoint.build()
                    acc = evaluate(model, cfg, sel.x_test, sel.y_test, seed=args.seed)
                    trains = record_spikes(model, model_inputs(cfg, xv, make_generator(args.seed)))
                    run = {"topology": top, "config": cname, "readout": readout, "init": init, "lr": lr,
                           "loss": loss, "val_accuracy": round(acc, 4),
                           "spikes_per_layer": [round(float(s.sum()) / len(xv), 1) for s in trains],
                           "seconds": round(time.perf_counter() - t0, 1)}
                    runs.append(run)
                    print(run, flush=True)
    print(json.dumps({"benchmark": "deep_snn", "dataset": data.name, "train_subset": args.train_subset,
                      "batch_size": args.batch_size, "runs": runs, "machine": platform.processor() or platform.machine()}))


if __name__ == "__main__":
    main()
