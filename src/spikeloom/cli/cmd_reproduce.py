"""spikeloom reproduce: the reliability-aware co-design paper's experiment (TOP0..TOP4 x
C1..C4 + ANN, int8, model-wise BERs, layer-wise at 1e-2, energy) on every dataset present;
writes DIR/<dataset>_fig{2,3,4,5}_*.png, DIR/results.csv, DIR/table.md (paper beside ours) and
DIR/summary.json. Resumable: a re-run reuses every finished model, epoch and trial."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from spikeloom.cli.common import add_data_dir, add_engine, add_out, add_quiet, add_val_fraction, say
from spikeloom.errors import ConfigError, DataError
from spikeloom.io import prepare_out_dir, write_summary
from spikeloom.spec import TRAIN_LOSSES


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true",
                   help="CI-sized run: digits, two tiny topologies, T 4/8, one epoch, 2 trials")
    p.add_argument("--datasets", nargs="+", default=None,
                   help="datasets (default: fashion-mnist and mnist, those whose files are present)")
    add_data_dir(p)
    p.add_argument("--topologies", nargs="+", default=None, help="subset, e.g. TOP0 TOP2 (default all five)")
    p.add_argument("--configs", nargs="+", default=None, help="SNN configs subset, e.g. C1 C2 (default C1..C4)")
    p.add_argument("--paper-budget", action="store_true",
                   help="the paper's budget: 10 epochs on all training images, 20 trials on 2,000 test "
                        "images (tens of hours on 2 cores; the default budget is sized for them)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default 2; paper 10; quick 1)")
    p.add_argument("--train-subset", type=int, default=None,
                   help="train on the first N samples only (default 20000; 0: all, as the paper)")
    p.add_argument("--trials", type=int, default=None,
                   help="fault trials per BER and scope (default 10; paper 20; quick 2)")
    p.add_argument("--samples", type=int, default=None,
                   help="test samples campaigns and energy read (default 1000; paper 2000; quick 120)")
    p.add_argument("--loss", choices=TRAIN_LOSSES, default=None,
                   help="the SNNs' training loss: membrane (default: the output layer's membrane, which "
                        "the deep TOP3/TOP4 need) or readout (spike counts)")
    add_engine(p)
    p.add_argument("--seed", type=int, default=0, help="master seed: training, encoding, fault masks (default 0)")
    add_val_fraction(p)
    add_out(p)
    add_quiet(p)


def _plan(args: argparse.Namespace):
    from spikeloom.data import load_dataset  # noqa: PLC0415
    from spikeloom.reproduce import full_plan, paper_plan, quick_plan  # noqa: PLC0415

    changes = {k: v for k, v in {"epochs": args.epochs, "train_subset": args.train_subset,
                                 "trials": args.trials, "samples": args.samples,
                                 "snn_loss": args.loss}.items() if v is not None}
    changes |= {"seed": args.seed, "val_fraction": args.val_fraction}
    if args.engine != "auto" or not args.quick:
        changes["engine"] = args.engine
    if args.quick and args.paper_budget:
        raise ConfigError("--quick and --paper-budget exclude each other; give one of them")
    if args.quick:
        plan = quick_plan(**changes)
        if args.datasets:
            plan = plan.replace(datasets=tuple(args.datasets))
    else:
        present = []
        for ds in args.datasets or ("fashion-mnist", "mnist"):
            try:
                load_dataset(ds, args.data_dir)
                present.append(ds)
            except DataError as exc:
                if args.datasets:
                    raise
                say(args, f"skipping {ds}: {exc}")
        if not present:
            raise DataError("no dataset found; put the Fashion-MNIST or MNIST IDX files under --data-dir "
                            "(or $SPIKELOOM_DATA), or use --quick")
        plan = (paper_plan if args.paper_budget else full_plan)(tuple(present), **changes)
    for flag, have, key in (("--topologies", args.topologies, "topologies"), ("--configs", args.configs, "configs")):
        if have:
            known = dict(getattr(plan, key))
            bad = [v for v in have if v not in known]
            if bad:
                raise ConfigError(f"unknown {flag[2:]} {', '.join(bad)}; choose from {', '.join(known)}")
            plan = plan.replace(**{key: tuple((v, known[v]) for v in have)})
    return plan


def run(args: argparse.Namespace) -> int:
    from spikeloom.data import load_dataset  # noqa: PLC0415
    from spikeloom.reproduce import paper_plan, run_plan  # noqa: PLC0415
    from spikeloom.reproduce.experiment import estimate_seconds  # noqa: PLC0415
    from spikeloom.reproduce.report import write_figures, write_tables  # noqa: PLC0415

    plan = _plan(args)
    out = prepare_out_dir(args.out)
    t0 = time.perf_counter()
    rows = run_plan(plan, Path(out), args.data_dir, log=lambda s: say(args, s))
    wall = time.perf_counter() - t0
    figures = write_figures(rows, Path(out))
    write_tables(rows, Path(out))
    estimates = {}
    for ds, rs in rows.items():
        data = load_dataset(ds, args.data_dir) if not args.quick else None
        if data is not None:
            n_train = int(len(data.y_train) * (1 - plan.val_fraction))
            estimates[ds] = {"this_plan": estimate_seconds(rs, plan, data.input_size, n_train),
                             "full_paper_plan": estimate_seconds(rs, paper_plan((ds,)), data.input_size, n_train)}
    write_summary(out, {"plan": plan.to_dict(), "seed": plan.seed, "eval_seed": plan.seed,
                        "fault_seed": plan.seed, "wall_seconds": wall, "rows": rows,
                        "figures": [str(f) for f in figures], "csv": str(Path(out) / "results.csv"),
                        "table": str(Path(out) / "table.md"), "estimates": estimates})
    say(args, f"{sum(len(r) for r in rows.values())} models in {wall:.0f} s; table -> {Path(out) / 'table.md'}")
    for ds, e in estimates.items():
        say(args, f"  {ds}: the full paper plan would take about {e['full_paper_plan']['estimated_seconds'] / 3600:.1f} h here")
    return 0
