"""The one CLI vocabulary: every flag name means one thing in every command.

--seed         master seed; every other seed derives from it unless given on its own
--eval-seed    seed of the input encoding of evaluations (default: --seed)
--fault-seed   seed of the fault masks of campaigns (default: --seed)
--samples N    a count: the first N samples of the split
--sample-ids   indices of individual samples (explain)
--trials N     Monte Carlo fault trials per scope and BER
--device       cpu, cuda or auto (CUDA when present)
--val-fraction share of the training data held out for selection (search, nas, run)
training flags (--epochs, --batch-size, --lr, --lr-schedule, --train-subset): one set of
defaults for train, search, nas and run.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

# One set of training defaults (train, search, nas, run).
TRAINING_DEFAULTS = {"epochs": 15, "batch_size": 32, "lr": 3e-3, "lr_schedule": "cosine"}
DEFAULT_VAL_FRACTION = 0.15


def add_out(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    parser.add_argument("--out", default=default, required=default is None,
                        help="output folder (created if missing); summary.json is written there")


def add_quiet(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def add_seed(parser: argparse.ArgumentParser, default: int | None = 0, eval_seed: bool = False,
             fault_seed: bool = False) -> None:
    """--seed (master) and, where the command uses them, --eval-seed / --fault-seed.
    default None: the checkpoint's training seed (commands that read a checkpoint)."""
    what = "the checkpoint's training seed" if default is None else str(default)
    parser.add_argument("--seed", type=int, default=default,
                        help=f"master seed; the other seeds derive from it (default {what})")
    if eval_seed:
        parser.add_argument("--eval-seed", type=int, default=None,
                            help="seed of the evaluation input encoding (default: --seed)")
    if fault_seed:
        parser.add_argument("--fault-seed", type=int, default=None,
                            help="seed of the fault masks (default: --seed)")


def resolve_seeds(args: argparse.Namespace, checkpoint_seed: int | None = None) -> dict[str, int]:
    """{'seed', 'eval_seed', 'fault_seed'} as used (and recorded in summary.json)."""
    seed = args.seed if args.seed is not None else (checkpoint_seed or 0)
    out = {"seed": int(seed)}
    for name in ("eval_seed", "fault_seed"):
        if hasattr(args, name):
            value = getattr(args, name)
            out[name] = int(seed if value is None else value)
    return out


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto",
                        help="cpu, cuda (or cuda:N) or auto: CUDA when present (default auto)")


def device_of(args: argparse.Namespace) -> Any:
    """The torch device --device names (`ConfigError` for cuda without a GPU)."""
    from spikeloom.snn.inference import resolve_device  # noqa: PLC0415 - torch only when running

    return resolve_device(getattr(args, "device", "auto"))


def add_samples(parser: argparse.ArgumentParser, what: str = "test") -> None:
    parser.add_argument("--samples", type=int, default=None, metavar="N",
                        help=f"use the first N {what} samples only (default all)")


def first_samples(args: argparse.Namespace, x: Any, y: Any) -> tuple[Any, Any]:
    """(x, y) cut to --samples; `ConfigError` for a count below 1."""
    from spikeloom.errors import ConfigError  # noqa: PLC0415

    n = getattr(args, "samples", None)
    if n is None:
        return x, y
    if n < 1:
        raise ConfigError(f"--samples must be >= 1, got {n}")
    return x[:n], y[:n]


def add_trials(parser: argparse.ArgumentParser, default: int) -> None:
    parser.add_argument("--trials", type=int, default=default,
                        help=f"Monte Carlo fault trials per scope and BER (default {default})")


def add_engine(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engine", default="auto",
                        choices=("auto", "reference", "prefix", "delta", "compiled", "batched", "fast"),
                        help="fault campaign engine; auto picks the fastest exact one; batched "
                             "runs several trials per forward pass (all give the reference's "
                             "per-trial accuracies; default auto)")


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    d = TRAINING_DEFAULTS
    parser.add_argument("--epochs", type=int, default=d["epochs"], help=f"training epochs (default {d['epochs']})")
    parser.add_argument("--batch-size", type=int, default=d["batch_size"], help=f"batch size (default {d['batch_size']})")
    parser.add_argument("--lr", type=float, default=d["lr"], help=f"Adam learning rate (default {d['lr']:g})")
    parser.add_argument("--lr-schedule", choices=("constant", "cosine"), default=d["lr_schedule"],
                        help=f"learning rate per epoch: constant or cosine annealing to ~0 (default {d['lr_schedule']})")
    parser.add_argument("--train-subset", type=int, default=None, help="train on the first N samples only")


def add_val_fraction(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--val-fraction", type=float, default=DEFAULT_VAL_FRACTION,
                        help="share of the training data held out (stratified, seeded) for every "
                             f"selection; the test split only reports (default {DEFAULT_VAL_FRACTION})")


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=None,
                        help="folder with dataset files (IDX); also $SPIKELOOM_DATA")


def show_progress(args: argparse.Namespace) -> bool:
    """Progress bars only on a terminal and without --quiet."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


def say(args: argparse.Namespace, text: str) -> None:
    """Print a human-readable line unless --quiet."""
    if not getattr(args, "quiet", False):
        print(text)


def add_checkpoint_inputs(parser: argparse.ArgumentParser, fault_seed: bool = False,
                          split: bool = True) -> None:
    """Flags of every command that measures a checkpoint on a dataset (`split`: whether it
    offers --split test|validation; explain has its own --split for sample indices)."""
    parser.add_argument("--model", required=True, help="checkpoint written by 'spikeloom train'")
    parser.add_argument("--dataset", default=None, help="dataset (default: the one it was trained on)")
    add_data_dir(parser)
    if split:
        parser.add_argument("--split", choices=("test", "validation"), default="test",
                            help="measure on the test split (default) or on the validation split "
                                 "that selection used (carved with --val-fraction and --seed)")
        add_val_fraction(parser)
    parser.add_argument("--encoding", choices=("rate", "latency", "direct"), default=None,
                        help="input encoding to run the model with (default: the checkpoint's; "
                             "a NIR graph does not say how inputs were encoded)")
    add_samples(parser)
    add_seed(parser, default=None, eval_seed=True, fault_seed=fault_seed)
    add_device(parser)


def load_checkpoint_inputs(args: argparse.Namespace, path: str | None = None) -> Any:
    """(checkpoint, dataset, seeds, device) for a command of `add_checkpoint_inputs`; checks
    that the model fits the data before anything is written. With --split validation the
    dataset's held-out part (x_test, y_test) is the validation split selection used."""
    from spikeloom.data import load_dataset  # noqa: PLC0415 - torch only when running
    from spikeloom.snn import load_checkpoint  # noqa: PLC0415
    from spikeloom.train import check_fits  # noqa: PLC0415

    ckpt = load_checkpoint(path or args.model)
    if getattr(args, "encoding", None):
        import dataclasses  # noqa: PLC0415

        ckpt = dataclasses.replace(ckpt, model_config=ckpt.model_config.replace(encoding=args.encoding))
    data = load_dataset(args.dataset or ckpt.train_config.dataset, args.data_dir)
    check_fits(ckpt.model_config, data)
    seeds = resolve_seeds(args, ckpt.train_config.seed)
    if getattr(args, "split", "test") == "validation":
        from spikeloom.measure import validation_split  # noqa: PLC0415

        data = validation_split(data, args.val_fraction, seeds["seed"])
        seeds["split_seed"] = seeds["seed"]
    return ckpt, data, seeds, device_of(args)


def add_protect_bits(p: argparse.ArgumentParser) -> None:
    p.add_argument("--protect-bits", type=int, default=2,
                   help="most significant bits msb-parity / msb-ecc protect (default 2: sign and MSB)")
