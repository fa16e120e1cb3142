"""spikeloom eval: re-measure a checkpoint's test accuracy."""

from __future__ import annotations

import argparse

from spikeloom.cli.common import (
    add_checkpoint_inputs,
    add_quiet,
    first_samples,
    load_checkpoint_inputs,
    say,
)
from spikeloom.io import prepare_out_dir, write_summary


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_checkpoint_inputs(p)
    p.add_argument("--out", default=None, help="also write summary.json into this folder")
    add_quiet(p)


def run(args: argparse.Namespace) -> int:
    from spikeloom.measure import evaluate  # noqa: PLC0415
    from spikeloom.quant import build_checkpoint_model  # noqa: PLC0415

    ckpt, data, seeds, device = load_checkpoint_inputs(args)
    x, y = first_samples(args, data.x_test, data.y_test)
    out = prepare_out_dir(args.out) if args.out else None
    model = build_checkpoint_model(ckpt, device)
    accuracy = evaluate(model, ckpt.model_config, x, y, seed=seeds["eval_seed"])
    summary = {"accuracy": accuracy, f"{data.held_out}_accuracy": accuracy, "dataset": data.name, "split": data.held_out, "samples": len(y), **seeds,
               "device": str(device), "model": str(args.model),
               "model_config": ckpt.model_config.to_dict()}
    if out is not None:
        write_summary(out, summary)
    say(args, f"{ckpt.model_config.name} on {data.name}: {data.held_out} accuracy {accuracy:.4f} "
              f"({len(y)} samples)")
    return 0
