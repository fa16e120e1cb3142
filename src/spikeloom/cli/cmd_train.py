"""spikeloom train: train an SNN or ANN and write DIR/model.pt and DIR/summary.json."""

from __future__ import annotations

import argparse
from pathlib import Path

from spikeloom.cli.common import (
    add_data_dir,
    add_device,
    add_out,
    add_quiet,
    add_seed,
    add_training_arguments,
    device_of,
    say,
    show_progress,
)
from spikeloom.cli.model_flags import add_model_arguments, model_config_from
from spikeloom.cli.train_methods import add_method_arguments, run_method
from spikeloom.errors import ConfigError
from spikeloom.io import prepare_out_dir, write_summary
from spikeloom.spec import TRAIN_LOSSES, WEIGHT_INITS, TrainConfig


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="digits", help="digits (default), mnist or fashion-mnist")
    add_data_dir(p)
    add_model_arguments(p)
    add_training_arguments(p)
    add_method_arguments(p)
    p.add_argument("--fault-aware-ber", type=float, default=0.0,
                   help="fault-aware training: every step runs through int weights hit by bit flips "
                        "at this rate (default 0: off)")
    p.add_argument("--fault-aware-bits", type=int, default=8,
                   help="bit width of fault-aware training's weights (default 8)")
    p.add_argument("--weight-init", choices=WEIGHT_INITS, default="default",
                   help="default: PyTorch's; rate: scale each SNN layer to fire 0.1 spikes per "
                        "neuron per step on 256 training samples first (deep SNNs that stay silent)")
    p.add_argument("--loss", choices=TRAIN_LOSSES, default="readout",
                   help="readout: cross-entropy on the readout (spike counts); membrane: on the output "
                        "layer's mean membrane potential, the model unchanged (deep SNNs whose output "
                        "layer falls silent)")
    p.add_argument("--fresh", action="store_true",
                   help="ignore a checkpoint already in --out (default: resume or reuse it)")
    add_seed(p)
    add_device(p)
    add_out(p)
    add_quiet(p)


def run(args: argparse.Namespace) -> int:
    from spikeloom.data import load_dataset  # noqa: PLC0415 - torch import only when running
    from spikeloom.train import check_fits, fit  # noqa: PLC0415

    if args.method != "bptt":
        return run_method(args)
    device = device_of(args)
    cfg = model_config_from(args)
    if cfg.arch == "ann" and args.loss != "readout":
        raise ConfigError(f"--loss {args.loss} trains an SNN's output membrane; an ANN trains on its "
                          "logits: drop --loss or use --arch snn")
    tcfg = TrainConfig(dataset=args.dataset, epochs=args.epochs, batch_size=args.batch_size,
                       lr=args.lr, seed=args.seed, train_subset=args.train_subset,
                       lr_schedule=args.lr_schedule, fault_aware_ber=args.fault_aware_ber,
                       fault_aware_bits=args.fault_aware_bits, weight_init=args.weight_init,
                       loss=args.loss)
    data = load_dataset(args.dataset, args.data_dir)
    check_fits(cfg, data)
    out = prepare_out_dir(args.out)
    path = Path(out) / "model.pt"
    if args.fresh:
        path.unlink(missing_ok=True)
    result = fit(cfg, tcfg, data, path, progress=show_progress(args), log=lambda s: say(args, s),
                 device=device)
    write_summary(out, result.summary() | {"checkpoint": str(path), "seed": args.seed,
                                           "eval_seed": args.seed, "device": str(device)})
    extra = (f", {result.checkpoint.metrics['spikes_per_sample']:.1f} spikes/sample"
             if cfg.arch == "snn" else "")
    say(args, f"{cfg.name} on {data.name}: test accuracy {result.test_accuracy:.4f}{extra}, "
              f"trained in {result.train_seconds:.1f} s -> {path}")
    return 0
