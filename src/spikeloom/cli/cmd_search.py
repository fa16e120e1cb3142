"""spikeloom search: reliability-aware search of SNN configurations against the ANN."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from spikeloom.cli.common import (
    add_data_dir,
    add_device,
    add_engine,
    add_protect_bits,
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
from spikeloom.spec import MITIGATIONS

if TYPE_CHECKING:  # annotations only: the CLI imports torch-heavy packages lazily
    from spikeloom.search.nas.stage import NasStage


def add_search_arguments(p: argparse.ArgumentParser, *, timesteps: list[int], trials: int,
                         scope: str, curve_bers: list[float]) -> None:
    p.add_argument("--dataset", default="digits", help="dataset (default digits, embedded)")
    add_data_dir(p)
    p.add_argument("--topology", default=None,
                   help="ANN/SNN topology, e.g. 784-128-64-10 (default: the --model's, else inputs-32-classes)")
    p.add_argument("--model", metavar="CHECKPOINT", default=None,
                   help="start from this trained SNN (model.pt or its folder, e.g. from 'spikeloom "
                        "import'): it sets topology, neuron model, reset, readout and encoding, is "
                        "measured as candidate 'start', and its weights initialise every grid SNN "
                        "(fine-tuned for --epochs; 0 = its weights as they are at each T, theta)")
    p.add_argument("--timesteps", type=int, nargs="+", default=timesteps, help="grid of SNN timesteps T")
    p.add_argument("--thresholds", type=float, nargs="+", default=[0.5, 1.5], help="grid of thresholds theta")
    p.add_argument("--beta", type=float, default=None,
                   help="membrane decay of the BPTT SNNs (default: the --model's, else 0.95)")
    p.add_argument("--train-method", nargs="+", choices=("bptt", "convert"), default=["bptt"],
                   help="how the grid's SNNs are obtained: bptt (trained, default), convert (the "
                        "STEP 0 ANN converted to IF neurons, beta 1, theta scaling the normalisation; "
                        "named conv-...), or both: 'bptt convert' (grid strategy only)")
    p.add_argument("--ber", type=float, default=0.01, help="bit error rate deciding reliability (default 0.01)")
    p.add_argument("--curve-bers", type=float, nargs="*", default=curve_bers,
                   help="extra BERs measured for the accuracy-vs-BER curves")
    p.add_argument("--scope", choices=("model", "layer", "both"), default=scope, help="fault scope")
    add_trials(p, trials)
    p.add_argument("--levers", nargs="+", default=[], metavar="LEVER",
                   choices=MITIGATIONS[1:],
                   help="reliability levers an accurate SNN may add (clamp, msb-parity, msb-ecc): "
                        "each (SNN, lever) is a candidate, charged the lever's decode energy")
    add_protect_bits(p)
    p.add_argument("--bits", type=int, default=8, help="weight bits of the quantized models (default 8)")
    add_engine(p)
    p.add_argument("--rule", choices=("stat", "strict"), default="stat",
                   help="decision rule of every SNN-vs-ANN check: stat (paired tests on the "
                        "validation split; an SNN is dropped only when shown worse; default) or "
                        "strict (the paper's rule on point estimates)")
    p.add_argument("--confidence", type=float, default=0.95,
                   help="confidence level of the stat rule's intervals (default 0.95)")
    p.add_argument("--margin", type=float, default=0.0,
                   help="stat rule: accuracy an SNN may lose before it counts as worse (fraction, default 0)")
    p.add_argument("--reliability-margin", type=float, default=0.0,
                   help="stat rule: reliability an SNN may lose, in percentage points (default 0)")
    p.add_argument("--tolerance", type=float, default=0.0,
                   help="strict rule: accuracy an SNN may lose against the ANN, as a fraction (default 0)")
    p.add_argument("--lowest-energy-only", action="store_true",
                   help="candidate_list2 holds only the lowest-energy candidate")
    p.add_argument("--energy-precision", choices=("int", "fp"), default="int",
                   help="energy table column (default int, for quantized models)")
    add_training_arguments(p)
    add_val_fraction(p)
    p.add_argument("--strategy", choices=("grid", "optuna"), default="grid",
                   help="grid: Algorithm 1 over timesteps x thresholds; optuna: multi-objective search")
    p.add_argument("--n-trials", type=int, default=20, help="Optuna trials (strategy optuna)")
    p.add_argument("--storage", default=None,
                   help="Optuna storage URL shared by workers (default sqlite in --out)")
    p.add_argument("--expand", action="store_true", help="on FAIL, run the proposed wider grid")
    add_seed(p)
    add_device(p)
    add_executor_arguments(p)
    add_quiet(p)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_search_arguments(p, timesteps=[10, 30], trials=10, scope="model", curve_bers=[])
    p.add_argument("--out", required=True, help="output folder (re-run the same command to resume)")


def search_config_from(args: argparse.Namespace, data) -> object:
    from spikeloom.search.config import SearchConfig  # noqa: PLC0415
    from spikeloom.spec import parse_topology  # noqa: PLC0415

    topology = parse_topology(args.topology) if args.topology else None
    beta = args.beta
    if args.model:
        from spikeloom.search.start import check_start_topology, load_start  # noqa: PLC0415

        start = load_start(args.model)
        topology = check_start_topology(start, topology)
        beta = start.config.beta if beta is None else beta
    return SearchConfig(
        dataset=data.name, topology=topology or (data.input_size, 32, data.num_classes),
        timesteps=tuple(args.timesteps), thresholds=tuple(args.thresholds),
        beta=0.95 if beta is None else beta, ber=args.ber,
        curve_bers=tuple(args.curve_bers or ()), scope=args.scope, trials=args.trials, bits=args.bits,
        engine=args.engine, tolerance=args.tolerance, rule=args.rule, margin=args.margin,
        reliability_margin=args.reliability_margin, confidence=args.confidence,
        val_fraction=args.val_fraction, lowest_energy_only=args.lowest_energy_only,
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, lr_schedule=args.lr_schedule,
        train_subset=args.train_subset,
        energy_precision=args.energy_precision, seed=args.seed, start=args.model,
        levers=tuple(args.levers), protected_bits=args.protect_bits, train_methods=tuple(args.train_method))


def execute(args: argparse.Namespace, out_dir: str | Path, explain: bool, map_crossbars: bool,
            nas: NasStage | None = None, **run_options: object) -> dict:
    """Shared by `search` and `run`: validate, then run the pipeline and print the verdict.
    `nas`: a `NasStage` (run only; None = no architecture search); `run_options`: further
    `RunOptions` fields (run only)."""
    from spikeloom.data import load_dataset  # noqa: PLC0415
    from spikeloom.executor import executor_session  # noqa: PLC0415
    from spikeloom.io import prepare_out_dir  # noqa: PLC0415
    from spikeloom.pipeline import RunOptions, run_pipeline  # noqa: PLC0415
    from spikeloom.search.start import check_start_strategy  # noqa: PLC0415
    from spikeloom.spec import ModelConfig  # noqa: PLC0415
    from spikeloom.train import check_fits  # noqa: PLC0415

    check_start_strategy(args.strategy, args.model)
    device = device_of(args)
    executor = executor_config(args)
    data = load_dataset(args.dataset, args.data_dir)
    scfg = search_config_from(args, data)
    check_fits(ModelConfig(arch="ann", topology=scfg.topology), data)
    if nas is None:
        from spikeloom.search.nas.stage import NasStage  # noqa: PLC0415

        nas = NasStage()
    if nas.enabled:
        from spikeloom.search.nas.stage import nas_config  # noqa: PLC0415

        nas_config(scfg, nas)  # validate the space file and objectives before writing anything
    if args.strategy == "optuna":
        from spikeloom.search.multiobjective import check_optuna_methods  # noqa: PLC0415

        check_optuna_methods(scfg)
    if args.strategy == "optuna" and args.storage:
        from spikeloom.search.shared_study import open_storage  # noqa: PLC0415

        open_storage(args.storage)  # fail fast, before anything is written
    opts = RunOptions(strategy=args.strategy, n_trials=args.n_trials, storage=args.storage,
                      expand=args.expand, explain=explain, map_crossbars=map_crossbars,
                      progress=show_progress(args), device=str(device), executor=executor, nas=nas,
                      **run_options)
    with executor_session(executor):  # Ray reached (or refused) before anything is written
        summary = run_pipeline(scfg, data, prepare_out_dir(out_dir), opts, log=lambda s: say(args, s))
    best = summary["best"]
    verdict = summary["verdict"]
    if best:
        ratio = summary["ann"]["energy_pj"] / best["energy_pj"] if best["energy_pj"] else float("inf")
        acc = best["comparisons"]["accuracy"]["verdict"]
        rel = best["comparisons"]["reliability"]["verdict"]
        say(args, f"{verdict}: SNN {best['name']} validation accuracy {best['accuracy']:.4f} "
                  f"(ANN {summary['ann']['accuracy']:.4f}; {acc}), reliability {best['reliability_pct']:.2f} % "
                  f"(ANN {summary['ann']['reliability_pct']:.2f} %; {rel}), {ratio:.2f}x less energy")
        if best.get("test") and summary["ann"].get("test"):
            say(args, f"  reported on the test split: accuracy {best['test']['accuracy']:.4f} "
                      f"(ANN {summary['ann']['test']['accuracy']:.4f})")
    else:
        say(args, f"{verdict}: no SNN configuration passed; proposed wider grid {summary['proposal']} "
                  "(re-run with --expand)")
    if "nas" in summary:
        hv = summary["nas"]["hypervolume"]["value"]
        say(args, f"architecture search: {len(summary['nas']['pareto'])} Pareto-optimal of "
                  f"{len(summary['nas']['trials'])} trials, hypervolume {'n/a' if hv is None else f'{hv:.4f}'}")
    say(args, f"report -> {summary['report']}")
    return summary


def run(args: argparse.Namespace) -> int:
    execute(args, args.out, explain=False, map_crossbars=False)
    return 0
