"""The non-BPTT ways `spikeloom train --method ...` gets an SNN: conversion, STDP, evolution.

Each method has its own flag group and its own run function; all write DIR/model.pt (an
ordinary spikeloom checkpoint) and DIR/summary.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from spikeloom.cli.common import device_of, say, show_progress
from spikeloom.cli.model_flags import model_config_from
from spikeloom.errors import ConfigError
from spikeloom.io import prepare_out_dir, write_summary

METHODS = ("bptt", "convert", "stdp", "evolve")


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers") from None


def add_method_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", choices=METHODS, default="bptt",
                   help="bptt: surrogate-gradient training (default); convert: ANN-to-SNN weight "
                        "conversion; stdp: unsupervised Diehl & Cook STDP; evolve: EONS-like evolution")
    g = p.add_argument_group("--method convert")
    g.add_argument("--ann", metavar="CHECKPOINT",
                   help="ANN checkpoint to convert (default: train the ANN of --topology first, "
                        "with --epochs/--lr/--batch-size, saved as DIR/ann.pt)")
    g.add_argument("--norm", choices=("max", "percentile"), default="percentile",
                   help="data-based normalisation of each layer (default percentile)")
    g.add_argument("--percentile", type=float, default=99.9,
                   help="percentile of the activations for --norm percentile (default 99.9)")
    g.add_argument("--norm-samples", type=int, default=10000,
                   help="training samples the activation statistics use (default 10000)")
    g.add_argument("--neuron", choices=("if", "lif"), default="if",
                   help="if: beta = 1 (default); lif: keep --beta")
    g.add_argument("--curve", type=_int_list, default=(1, 2, 4, 8, 16, 32, 64, 128),
                   help="timesteps of the accuracy-vs-T curve (default 1,2,4,...,128)")
    g = p.add_argument_group("--method stdp (topology D-N-C: N excitatory neurons, C classes)")
    g.add_argument("--stdp-threshold", type=float, default=2.5,
                   help="initial firing threshold, in input-current units (default 2.5)")
    g.add_argument("--theta-plus", type=float, default=0.3,
                   help="adaptive threshold increase per spike (default 0.3)")
    g.add_argument("--x-tar", type=float, default=0.6,
                   help="target pre-trace: on a post spike inputs with a lower trace are depressed (default 0.6)")
    g.add_argument("--eta-post", type=float, default=0.005, help="potentiation rate (default 0.005)")
    g.add_argument("--eta-pre", type=float, default=0.0005, help="depression rate (default 0.0005)")
    g.add_argument("--tau-pre", type=float, default=4.0, help="pre-synaptic trace time constant, steps (default 4)")
    g.add_argument("--tau-post", type=float, default=4.0, help="post-synaptic trace time constant, steps (default 4)")
    g.add_argument("--inhibition", type=float, default=20.0,
                   help="lateral inhibition: membrane drop of the other neurons on a spike (default 20)")
    g.add_argument("--tau-theta", type=float, default=5000.0,
                   help="decay time constant of the adaptive thresholds, in samples (default 5000)")
    g.add_argument("--weight-norm", type=float, default=None,
                   help="sum of each neuron's incoming weights (default 1 / mean pixel intensity)")
    g.add_argument("--label-samples", type=int, default=None,
                   help="training samples used to label the neurons (default all)")
    g = p.add_argument_group("--method evolve (topology D-H-C; H grows and shrinks)")
    g.add_argument("--population", type=int, default=24, help="genomes per generation (default 24)")
    g.add_argument("--generations", type=int, default=30, help="generations (default 30)")
    g.add_argument("--tournament", type=int, default=3, help="tournament size (default 3)")
    g.add_argument("--elite", type=int, default=1, help="best genomes kept unchanged (default 1)")
    g.add_argument("--crossover", type=float, default=0.0,
                   help="probability of two parents (default 0: mutation only)")
    g.add_argument("--mutations", type=int, default=3, help="mutation operators per child (default 3)")
    g.add_argument("--size-penalty", type=float, default=1e-4,
                   help="fitness cost per synapse (default 1e-4)")
    g.add_argument("--init-hidden", type=int, default=30, help="hidden neurons at start (default 30)")
    g.add_argument("--max-hidden", type=int, default=64, help="hidden neurons at most (default 64)")
    g.add_argument("--fan-in", type=int, default=12, help="input synapses of a new neuron (default 12)")
    g.add_argument("--out-synapses", type=int, default=10,
                   help="output synapses of a new neuron, at most C (default 10)")
    g.add_argument("--init", choices=("samples", "random"), default="samples",
                   help="new hidden neuron: prototype of a random fitness image (samples) or random "
                        "pixels and weights (random) (default samples)")
    g.add_argument("--init-gain", type=float, default=0.5,
                   help="std of a new weight in units of threshold / sqrt(fan-in) (default 0.5)")
    g.add_argument("--weight-sigma", type=float, default=0.5,
                   help="std of the step the weight operator adds to each incoming weight of one "
                        "neuron, same units (default 0.5)")
    g.add_argument("--fitness-samples", type=int, default=0,
                   help="training samples the fitness is measured on (default 0: all)")
    g.add_argument("--workers", type=int, default=2, help="evaluation processes (default 2)")


def run_method(args: argparse.Namespace) -> int:
    if args.method == "convert":
        return _run_convert(args)
    if args.method == "stdp":
        return _run_stdp(args)
    if args.method == "evolve":
        return _run_evolve(args)
    raise ConfigError(f"unknown --method {args.method!r}; choose one of {', '.join(METHODS)}")


def _run_convert(args: argparse.Namespace) -> int:
    from spikeloom.data import load_dataset  # noqa: PLC0415
    from spikeloom.snn.checkpoint import save_checkpoint  # noqa: PLC0415
    from spikeloom.spec import TrainConfig  # noqa: PLC0415
    from spikeloom.train import check_fits, fit  # noqa: PLC0415
    from spikeloom.train.convert import ConvertConfig, convert, load_ann, plot_curve, snn_config  # noqa: PLC0415

    base = model_config_from(args)
    if args.neuron == "if":
        base = base.replace(beta=1.0)
    cc = ConvertConfig(norm=args.norm, percentile=args.percentile, norm_samples=args.norm_samples,
                       curve=args.curve)
    tcfg = TrainConfig(dataset=args.dataset, epochs=args.epochs, batch_size=args.batch_size,
                       lr=args.lr, seed=args.seed, train_subset=args.train_subset,
                       lr_schedule=args.lr_schedule)
    ann_ckpt = load_ann(args.ann) if args.ann else None
    ann_cfg = ann_ckpt.model_config if ann_ckpt else base.replace(arch="ann")
    snn_config(ann_cfg, base)  # bad encodings fail before any data is read or trained
    data = load_dataset(args.dataset, args.data_dir)
    check_fits(ann_cfg, data)
    out = prepare_out_dir(args.out)
    device = device_of(args)
    if ann_ckpt is None:
        ann_path = Path(out) / "ann.pt"
        if args.fresh:
            ann_path.unlink(missing_ok=True)
        trained = fit(ann_cfg, tcfg, data, ann_path, progress=show_progress(args),
                      log=lambda s: say(args, s))
        ann_ckpt, ann_source = trained.checkpoint, str(ann_path)
    else:
        tcfg = tcfg.replace(epochs=ann_ckpt.train_config.epochs)
        ann_source = str(args.ann)
    result = convert(ann_ckpt, base, tcfg, cc, data, device)
    path = save_checkpoint(Path(out) / "model.pt", result.checkpoint)
    cfg = result.checkpoint.model_config
    png = plot_curve(Path(out) / "accuracy_vs_T.png", result.curve, result.ann_accuracy,
                     f"{cfg.name} converted ({cc.norm}) on {data.name}")
    write_summary(out, {
        "method": "convert", "test_accuracy": result.test_accuracy,
        "ann_test_accuracy": result.ann_accuracy, "ann": ann_source,
        "topology": "-".join(map(str, cfg.topology)), "timesteps": cfg.timesteps,
        "threshold": cfg.threshold, "beta": cfg.beta, "seed": tcfg.seed, "eval_seed": tcfg.seed,
        "dataset": data.name, "device": str(device),
        "scales": list(result.scales), "convert_seconds": result.convert_seconds,
        "accuracy_vs_T": [{"timesteps": t, "test_accuracy": a} for t, a in result.curve],
        "convert_config": cc.to_dict(), "model_config": cfg.to_dict(),
        "train_config": tcfg.to_dict(), "checkpoint": str(path), "figure": str(png)})
    say(args, f"{cfg.name} converted from {ann_source} on {data.name}: test accuracy "
              f"{result.test_accuracy:.4f} (ANN {result.ann_accuracy:.4f}) -> {path}")
    return 0


def _run_stdp(args: argparse.Namespace) -> int:
    from spikeloom.data import load_dataset  # noqa: PLC0415
    from spikeloom.snn.checkpoint import save_checkpoint  # noqa: PLC0415
    from spikeloom.spec import TrainConfig  # noqa: PLC0415
    from spikeloom.train.stdp import StdpConfig, check_stdp_topology, train_stdp  # noqa: PLC0415

    cfg = model_config_from(args)
    check_stdp_topology(cfg)
    sc = StdpConfig(threshold=args.stdp_threshold, theta_plus=args.theta_plus, tau_pre=args.tau_pre,
                    tau_post=args.tau_post, eta_post=args.eta_post, eta_pre=args.eta_pre,
                    norm=args.weight_norm, inhibition=args.inhibition, tau_theta=args.tau_theta,
                    x_tar=args.x_tar)
    if args.label_samples is not None and args.label_samples < 1:
        raise ConfigError(f"--label-samples {args.label_samples} must be >= 1")
    tcfg = TrainConfig(dataset=args.dataset, epochs=args.epochs, batch_size=args.batch_size,
                       lr=args.lr, seed=args.seed, train_subset=args.train_subset)
    data = load_dataset(args.dataset, args.data_dir)
    out = prepare_out_dir(args.out)
    device = device_of(args)
    result = train_stdp(cfg, tcfg, sc, data, device, log=lambda s: say(args, s),
                        label_samples=args.label_samples)
    path = save_checkpoint(Path(out) / "model.pt", result.checkpoint)
    m = result.checkpoint.model_config
    write_summary(out, {
        "method": "stdp", "test_accuracy": result.test_accuracy,
        "wta_test_accuracy": result.wta_test_accuracy, "train_seconds": result.train_seconds,
        "topology": "-".join(map(str, m.topology)), "timesteps": m.timesteps, "seed": tcfg.seed,
        "eval_seed": tcfg.seed, "dataset": data.name, "device": str(device), "epochs": tcfg.epochs,
        "spikes_per_sample": result.checkpoint.metrics["spikes_per_sample"],
        "readout": "vote (linear layer 1/n_c, membrane readout)",
        "stdp_config": sc.to_dict(), "model_config": m.to_dict(), "train_config": tcfg.to_dict(),
        "checkpoint": str(path)})
    say(args, f"STDP {m.topology[1]} excitatory neurons on {data.name}: test accuracy "
              f"{result.test_accuracy:.4f} exported (vote with inhibition {result.wta_test_accuracy:.4f}), "
              f"trained in {result.train_seconds:.1f} s on {device} -> {path}")
    return 0


def _run_evolve(args: argparse.Namespace) -> int:
    from spikeloom.data import load_dataset  # noqa: PLC0415
    from spikeloom.measure import evaluate  # noqa: PLC0415
    from spikeloom.snn.checkpoint import save_checkpoint  # noqa: PLC0415
    from spikeloom.spec import TrainConfig  # noqa: PLC0415
    from spikeloom.train.evolve import EvolveConfig, evolve, export  # noqa: PLC0415

    ec = EvolveConfig(population=args.population, generations=args.generations,
                      tournament=args.tournament, elite=args.elite, crossover=args.crossover,
                      mutations=args.mutations, size_penalty=args.size_penalty,
                      init_hidden=args.init_hidden, max_hidden=args.max_hidden, fan_in=args.fan_in,
                      out_synapses=args.out_synapses, init=args.init, init_gain=args.init_gain,
                      weight_sigma=args.weight_sigma, fitness_samples=args.fitness_samples, workers=args.workers)
    base = model_config_from(args).replace(threshold=1.0, readout="count", bias=False,
                                           learn_beta=False, learn_threshold=False)
    if len(base.topology) != 3:
        raise ConfigError("--method evolve evolves one hidden population: give --topology D-H-C, "
                          "e.g. 64-10-10 (the hidden size then evolves)")
    tcfg = TrainConfig(dataset=args.dataset, epochs=args.generations, seed=args.seed)
    data = load_dataset(args.dataset, args.data_dir)
    out = prepare_out_dir(args.out)
    state_path = Path(out) / "evolve_state.pt"
    if args.fresh:
        state_path.unlink(missing_ok=True)
    run = evolve(base, ec, data, args.seed, state_path, log=lambda s: say(args, s))
    best = run.population[run.best]
    ckpt = export(best, base, tcfg, ec)
    acc = evaluate(ckpt.build(), ckpt.model_config, data.x_test, data.y_test, seed=args.seed)
    ckpt.metrics.update(test_accuracy=acc, fitness=run.scores[run.best][0],
                        fitness_accuracy=run.scores[run.best][1], train_seconds=run.seconds)
    path = save_checkpoint(Path(out) / "model.pt", ckpt)
    m = ckpt.model_config
    write_summary(out, {
        "method": "evolve", "test_accuracy": acc, "fitness": run.scores[run.best][0],
        "fitness_accuracy": run.scores[run.best][1], "hidden": best.hidden, "synapses": best.synapses,
        "topology": "-".join(map(str, m.topology)), "timesteps": m.timesteps, "seed": args.seed,
        "eval_seed": args.seed, "dataset": data.name, "generations": run.generation, "train_seconds": run.seconds,
        "history": run.history, "evolve_config": ec.to_dict(), "model_config": m.to_dict(),
        "checkpoint": str(path)})
    say(args, f"evolved {m.topology[1]} hidden neurons, {best.synapses} synapses on {data.name}: test "
              f"accuracy {acc:.4f} (fitness {run.scores[run.best][0]:.4f}) in {run.seconds:.1f} s -> {path}")
    return 0
