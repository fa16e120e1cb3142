"""spikeloom eval: re-measure a checkpoint's test accuracy."""

from __future__ import annotations

import argparse

from spikeloom.cli.common import add_data_dir, add_quiet, say
from spikeloom.io import prepare_out_dir, write_summary


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="checkpoint written by 'spikeloom train'")
    p.add_argument("--dataset", default=None, help="dataset (default: the one it was trained on)")
    add_data_dir(p)
    p.add_argument("--seed", type=int, default=None,
                   help="seed of the input encoding (default: the training seed)")
    p.add_argument("--out", default=None, help="also write summary.json into this folder")
    add_quiet(p)


def run(args: argparse.Namespace) -> int:
    from spikeloom.data import load_dataset  # noqa: PLC0415
    from spikeloom.snn import load_checkpoint  # noqa: PLC0415
    from spikeloom.train import check_fits, evaluate  # noqa: PLC0415

    ckpt = load_checkpoint(args.model)
    name = args.dataset or ckpt.train_config.dataset
    data = load_dataset(name, args.data_dir)
    check_fits(ckpt.model_config, data)
    seed = ckpt.train_config.seed if args.seed is None else args.seed
    out = prepare_out_dir(args.out) if args.out else None
    accuracy = evaluate(ckpt.build(), ckpt.model_config, data.x_test, data.y_test, seed=seed)
    summary = {"test_accuracy": accuracy, "dataset": data.name, "samples": len(data.y_test),
               "seed": seed, "model": str(args.model), "model_config": ckpt.model_config.to_dict()}
    if out is not None:
        write_summary(out, summary)
    say(args, f"{ckpt.model_config.name} on {data.name}: test accuracy {accuracy:.4f} "
              f"({len(data.y_test)} samples)")
    return 0
