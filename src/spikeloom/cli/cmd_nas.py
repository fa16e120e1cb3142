"""spikeloom nas: SNN architecture search with crossbar hardware co-exploration."""

from __future__ import annotations

import argparse

from spikeloom.cli.common import (
    add_data_dir,
    add_device,
    add_out,
    add_quiet,
    add_seed,
    add_training_arguments,
    add_trials,
    add_val_fraction,
    device_of,
    say,
    show_progress,
)
from spikeloom.cli.executor_flags import add_executor_arguments, executor_config


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="digits", help="dataset (default digits, embedded)")
    add_data_dir(p)
    p.add_argument("--space", default=None, metavar="FILE", help="search space YAML/JSON (default: built in)")
    p.add_argument("--strategy", default="tpe", choices=("grid", "random", "evolution", "tpe", "gp"),
                   help="grid, random, evolution (NSGA-II), tpe or gp (default tpe)")
    p.add_argument("--objectives", default="accuracy,energy,area",
                   help="comma list of accuracy, energy, reliability, latency, memory, area, routes")
    p.add_argument("--fidelity", default="full", choices=("full", "low", "proxy"),
                   help="full training, low fidelity, or the training-free SAHD proxy (default full)")
    p.add_argument("--n-trials", type=int, default=20, help="trials of the study, all workers together")
    p.add_argument("--storage", default=None, help="Optuna storage URL shared by workers (default sqlite in --out)")
    add_training_arguments(p)
    add_val_fraction(p)
    p.add_argument("--finetune-epochs", type=int, default=1, help="masked epochs after pruning (default 1)")
    p.add_argument("--eval-samples", type=int, default=None, help="validation samples measured (default all)")
    p.add_argument("--low-epochs", type=int, default=None, help="low fidelity: epochs (default epochs/4)")
    p.add_argument("--low-subset", type=int, default=None, help="low fidelity: training samples")
    p.add_argument("--timesteps-factor", type=float, default=0.5, help="low fidelity: timesteps x this")
    p.add_argument("--promote", type=int, default=5, help="cheap fidelities: best candidates trained fully")
    p.add_argument("--validate", type=int, default=3,
                   help="cheap fidelities: extra random candidates trained fully to validate the ranking")
    p.add_argument("--ber", type=float, default=1e-3, help="bit error rate of the reliability objective")
    add_trials(p, 3)
    p.add_argument("--fault-trials", dest="trials", type=int, help=argparse.SUPPRESS)  # 0.1 spelling
    p.add_argument("--map-time-limit", type=float, default=0.3, help="seconds per crossbar mapping (default 0.3)")
    p.add_argument("--exact-mapping", action="store_true", help="let CP-SAT prove mappings (slower)")
    p.add_argument("--max-area", type=float, default=None, help="budget: crossbar cells")
    p.add_argument("--max-memory", type=float, default=None, help="budget: weight memory bits")
    p.add_argument("--max-energy", type=float, default=None, help="budget: pJ per sample")
    add_seed(p)
    add_device(p)
    add_executor_arguments(p)
    add_out(p)
    add_quiet(p)


def config_from(args: argparse.Namespace, dataset: str):
    from spikeloom.search.nas.fidelity import FidelityConfig  # noqa: PLC0415
    from spikeloom.search.nas.objectives import EvalSettings, parse_objectives  # noqa: PLC0415
    from spikeloom.search.nas.space import load_space  # noqa: PLC0415
    from spikeloom.search.nas.study import NasConfig  # noqa: PLC0415

    budgets = tuple((k, float(v)) for k, v in (("area", args.max_area), ("memory", args.max_memory),
                                                ("energy", args.max_energy)) if v is not None)
    settings = EvalSettings(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                            lr_schedule=args.lr_schedule,
                            train_subset=args.train_subset, finetune_epochs=args.finetune_epochs,
                            val_fraction=args.val_fraction,
                            eval_samples=args.eval_samples, ber=args.ber, fault_trials=args.trials,
                            map_time_limit=args.map_time_limit, map_exact=args.exact_mapping, seed=args.seed)
    fidelity = FidelityConfig(kind=args.fidelity, low_epochs=args.low_epochs, low_subset=args.low_subset,
                              timesteps_factor=args.timesteps_factor, promote=args.promote,
                              validate=args.validate)
    return NasConfig(dataset=dataset, strategy=args.strategy, objectives=parse_objectives(args.objectives),
                     n_trials=args.n_trials, seed=args.seed, space=load_space(args.space),
                     settings=settings, fidelity=fidelity, budgets=budgets)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path  # noqa: PLC0415

    from spikeloom.data import load_dataset  # noqa: PLC0415
    from spikeloom.errors import ConfigError  # noqa: PLC0415
    from spikeloom.executor import executor_session  # noqa: PLC0415
    from spikeloom.io import prepare_out_dir, write_summary  # noqa: PLC0415
    from spikeloom.report.html import write_report  # noqa: PLC0415
    from spikeloom.search.nas.report import nas_section  # noqa: PLC0415
    from spikeloom.search.nas.study import run_nas, summarize  # noqa: PLC0415
    from spikeloom.search.shared_study import open_storage  # noqa: PLC0415

    for flag in ("n_trials", "epochs", "batch_size", "trials"):
        if getattr(args, flag) < 1 and not (flag == "epochs" and args.epochs == 0):
            raise ConfigError(f"--{flag.replace('_', '-')} must be >= 1, got {getattr(args, flag)}")
    for flag in ("train_subset", "eval_samples", "low_subset", "low_epochs"):
        v = getattr(args, flag)
        if v is not None and v < 1:
            raise ConfigError(f"--{flag.replace('_', '-')} must be >= 1, got {v}")
    device = device_of(args)
    executor = executor_config(args)
    data = load_dataset(args.dataset, args.data_dir)
    ncfg = config_from(args, data.name)
    if args.storage:
        open_storage(args.storage)  # fail fast, before anything is written
    with executor_session(executor):  # Ray reached (or refused) before anything is written
        out = prepare_out_dir(args.out)
        result = run_nas(ncfg, data, Path(out), args.storage, show_progress(args), lambda s: say(args, s),
                         device, executor)
    summary = summarize(result, Path(out), data=data) | {"device": str(device), "executor": executor.to_dict()}
    section = nas_section(summary, Path(out) / "figures")
    summary["report"] = str(write_report(Path(out) / "report.html", "spikeloom architecture search",
                                         f"{data.name}: {ncfg.strategy}, {ncfg.fidelity.kind} fidelity",
                                         [section]))
    write_summary(out, summary)
    hv = summary["hypervolume"]["value"]
    say(args, f"{len(summary['pareto'])} Pareto-optimal architectures of {len(summary['trials'])} trials; "
              f"hypervolume {'n/a' if hv is None else f'{hv:.4f}'}")
    for p in summary["pareto"]:
        say(args, "  " + p["label"] + ": " + ", ".join(f"{k} {v:.4g}" for k, v in p["objectives"].items()))
    corr = summary["proxy_correlation"]
    if corr:
        say(args, f"{corr['evaluator']} vs full accuracy: Kendall tau {corr['kendall_tau']}, "
                  f"Spearman {corr['spearman']} (n={corr['n']})")
    say(args, f"summary -> {Path(out) / 'summary.json'}")
    return 0
