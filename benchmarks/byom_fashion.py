"""Bring your own model on Fashion-MNIST: snnTorch trains a 784-128-64-10 SNN, its own NIR
exporter writes it, `spikeloom import` reads it, and both run the whole test set.

    python benchmarks/byom_fashion.py [--epochs 1] [--train-subset 20000] [--timesteps 10]

snnTorch trains on rate-coded images (Adam, count cross-entropy); then the 10,000 test images
are rate-coded once with spikeloom's evaluation encoding (seed 0) and fed to both. The last
line is JSON: both accuracies, whether every layer's spikes were identical, spikeloom's
NeuroBench figures, and the machine. Needs Fashion-MNIST, snntorch, nir, nirtorch.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import nir
import torch
from snntorch import utils as snn_utils
from snntorch.export_nir import export_to_nir

from spikeloom.cli.main import main as spikeloom
from spikeloom.data import load_dataset
from spikeloom.data.protocol import eval_batches
from spikeloom.snn import load_checkpoint
from spikeloom.snn.activity import record_spikes

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from snntorch_peer import leaky, snntorch_spikes  # noqa: E402  (the tests' snnTorch peer)


def train(args, data) -> torch.nn.Module:
    torch.manual_seed(args.seed)
    net = torch.nn.Sequential(torch.nn.Linear(784, 128), leaky(128, 0.9), torch.nn.Linear(128, 64),
                              leaky(64, 0.9), torch.nn.Linear(64, 10), leaky(10, 0.9, output=True))
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    x, y = data.x_train[: args.train_subset], data.y_train[: args.train_subset]
    for _ in range(args.epochs):
        order = torch.randperm(len(x))
        for start in range(0, len(x), 128):
            rows = order[start:start + 128]
            snn_utils.reset(net)
            count = sum(net((torch.rand(len(rows), 784) < x[rows]).float())[0]
                        for _ in range(args.timesteps))
            loss = torch.nn.functional.cross_entropy(count, y[rows])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.eval()


def run(args) -> dict:
    data = load_dataset("fashion-mnist")
    t0 = time.perf_counter()
    net = train(args, data)
    train_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        nir.write(f"{tmp}/net.nir", export_to_nir(net, torch.randn(784)))
        if spikeloom(["import", "--nir", f"{tmp}/net.nir", "--dt", "1e-4", "--timesteps",
                      str(args.timesteps), "--out", f"{tmp}/m", "--quiet"]) != 0:
            sys.exit("import failed")
        if spikeloom(["energy", "--model", f"{tmp}/m/model.pt", "--out", f"{tmp}/e", "--quiet"]) != 0:
            sys.exit("energy failed")
        bench = json.loads(Path(f"{tmp}/e/summary.json").read_text())["neurobench"]
        ckpt = load_checkpoint(f"{tmp}/m/model.pt")
    model, cfg = ckpt.build(), ckpt.model_config
    correct = {"snntorch": 0, "spikeloom": 0}
    identical = True
    for rows, seq in eval_batches(cfg, data.x_test, seed=0):
        theirs = snntorch_spikes(net, seq)
        ours = record_spikes(model, seq)[1:]
        identical &= all(torch.equal(a, b) for a, b in zip(ours, theirs))
        y = data.y_test[rows]
        correct["snntorch"] += int((theirs[-1].sum(0).argmax(1) == y).sum())
        correct["spikeloom"] += int((ours[-1].sum(0).argmax(1) == y).sum())
    n = len(data.y_test)
    return {"benchmark": "byom_fashion", "epochs": args.epochs, "train_subset": args.train_subset,
            "timesteps": args.timesteps, "seed": args.seed, "train_seconds": round(train_s, 1),
            "snntorch_accuracy": correct["snntorch"] / n,
            "spikeloom_accuracy": correct["spikeloom"] / n, "identical_spikes": identical,
            "neurobench": {k: v for k, v in bench.items() if k != "synaptic_operations"}
            | {k: bench["synaptic_operations"][k] for k in ("Effective_MACs", "Effective_ACs", "Dense")},
            "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
                       f"{torch.get_num_threads()} threads"}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--train-subset", type=int, default=20000)
    p.add_argument("--timesteps", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    print(json.dumps(run(p.parse_args())))
