"""spikeloom run: the co-design pipeline on a dataset (train-and-compare stage)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from spikeloom.cli.common import add_data_dir, add_quiet, add_seed, say, show_progress
from spikeloom.io import prepare_out_dir, write_summary


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="digits", help="dataset (default digits, embedded)")
    add_data_dir(p)
    p.add_argument("--topology", default=None, help="ANN/SNN topology (default: input-32-classes)")
    p.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    add_seed(p)
    p.add_argument("--out", default=None, help="output folder (default runs/<timestamp>)")
    add_quiet(p)


def run(args: argparse.Namespace) -> int:
    from spikeloom.data import load_dataset  # noqa: PLC0415
    from spikeloom.spec import ModelConfig, TrainConfig  # noqa: PLC0415
    from spikeloom.train import check_fits, fit  # noqa: PLC0415

    data = load_dataset(args.dataset, args.data_dir)
    topology = args.topology or f"{data.input_size}-32-{data.num_classes}"
    configs = {"ann": ModelConfig(arch="ann", topology=topology),
               "snn": ModelConfig(arch="snn", topology=topology, timesteps=10, threshold=1.0)}
    for cfg in configs.values():
        check_fits(cfg, data)
    out = prepare_out_dir(args.out or Path("runs") / time.strftime("%Y%m%d-%H%M%S"))
    tcfg = TrainConfig(dataset=data.name, epochs=args.epochs, seed=args.seed)
    results = {}
    for name, cfg in configs.items():
        res = fit(cfg, tcfg, data, out / name / "model.pt", progress=show_progress(args))
        results[name] = res.summary()
        say(args, f"{cfg.name}: test accuracy {res.test_accuracy:.4f} ({res.train_seconds:.1f} s)")
    write_summary(out, {"dataset": data.name, "seed": args.seed, **results})
    say(args, f"summary -> {out / 'summary.json'}")
    return 0
