"""`spikeloom map`: map a network onto memristor crossbars with CP-SAT."""

from __future__ import annotations

import argparse
from pathlib import Path

from spikeloom.cli.common import add_data_dir, add_out, add_quiet, add_seed, say
from spikeloom.errors import ConfigError, SpikeloomError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from spikeloom.hw.instance import OBJECTIVES
    from spikeloom.hw.mapper import STARTS

    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--network", metavar="FILE",
                     help="network file: TENNLab .json, edge-list .csv, or NIR .nir")
    src.add_argument("--preset", metavar="NAME", help="built-in test network A..E")
    src.add_argument("--model", metavar="PATH", help="spikeloom checkpoint (model.pt or its folder)")
    parser.add_argument("--prune-threshold", type=float, default=0.0,
                        help="drop synapses with |w| <= this (for --model and NIR; default 0)")
    parser.add_argument("--fan-in", type=int, default=None, metavar="N",
                        help="with --model: keep each neuron's N largest |w| (the pruning that "
                             "'spikeloom run' applies to fit a crossbar library; default: all)")
    parser.add_argument("--crossbars", default="homogeneous:16x16",
                        help="homogeneous:AxN, table2 (the paper's ten sizes) or a JSON/YAML file")
    parser.add_argument("--method", default="axon-sharing", choices=["axon-sharing", "mcc", "hypergraph"],
                        help="axon-sharing (our search), mcc (SpikeHard-style baseline) or hypergraph "
                             "(repaired Mt-KaHyPar partition, baseline; needs spikeloom[hypergraph])")
    parser.add_argument("--start", default="auto", choices=list(STARTS),
                        help="first mapping of the axon-sharing search: constructive heuristic, repaired "
                             "hypergraph partition, each depth layer mapped alone (homogeneous library), "
                             "the best of those, or auto (default: best above 1,500 neurons, else construct)")
    parser.add_argument("--objective", default="area", choices=list(OBJECTIVES))
    parser.add_argument("--profile", metavar="FILE",
                        help="per-neuron spike counts (JSON {id: count} or CSV id,count) for packets")
    parser.add_argument("--dataset", default=None,
                        help="with --model: dataset to record the spike profile on (default: the model's)")
    parser.add_argument("--profile-samples", type=int, default=64,
                        help="with --model: samples to record the spike profile on (default 64)")
    parser.add_argument("--external-inputs", action="store_true",
                        help="leave the network's input neurons off the crossbars (spikes arrive from outside)")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds for the whole search (default 60)")
    parser.add_argument("--deterministic-time", type=float, default=None,
                        help="also cap CP-SAT's deterministic time (units of its own clock)")
    parser.add_argument("--threads", type=int, default=2,
                        help="CP-SAT search threads (default 2; --workers elsewhere counts executor processes)")
    parser.add_argument("--no-figure", action="store_true", help="do not draw usage.png")
    add_data_dir(parser)
    add_seed(parser)
    add_out(parser)
    add_quiet(parser)


def _load_graph(args: argparse.Namespace):
    from spikeloom.hw import load_network, preset_network

    if args.network:
        return load_network(args.network, threshold=args.prune_threshold)
    if args.preset:
        return preset_network(args.preset)
    from spikeloom.measure.graph import PruningPolicy, graph_from_checkpoint

    return graph_from_checkpoint(args.model, PruningPolicy(args.fan_in, args.prune_threshold))


def _profile(args: argparse.Namespace) -> dict[str, float]:
    """Mean spikes per neuron on `--profile-samples` training samples (seeded choice)."""
    import torch

    from spikeloom.data import load_dataset
    from spikeloom.measure.graph import checkpoint_path, spike_profile
    from spikeloom.snn.checkpoint import load_checkpoint

    if args.profile_samples < 1:
        raise ConfigError(f"--profile-samples {args.profile_samples} must be >= 1")
    ckpt = load_checkpoint(checkpoint_path(args.model))
    data = load_dataset(args.dataset or ckpt.train_config.dataset, getattr(args, "data_dir", None))
    pick = torch.randperm(len(data.x_train), generator=torch.Generator().manual_seed(args.seed))
    x = data.x_train[pick[: args.profile_samples]]
    return spike_profile(ckpt.build("cpu"), ckpt.model_config, x, args.seed)


def run(args: argparse.Namespace) -> int:
    from spikeloom.hw import check_mapping, load_profile, map_network, parse_library
    from spikeloom.io import atomic_write_json, prepare_out_dir, write_summary

    if args.time_limit <= 0:
        raise ConfigError(f"--time-limit {args.time_limit} must be > 0 seconds")
    if args.threads < 1:
        raise ConfigError(f"--threads {args.threads} must be >= 1")
    graph = _load_graph(args)
    library = parse_library(args.crossbars)
    profile_src = None
    if args.profile:
        graph = graph.with_weights({k: v for k, v in load_profile(args.profile).items()})
        profile_src = str(args.profile)
    elif args.model and "packets" in args.objective:
        nodes = set(graph.nodes)  # neurons the pruning policy left out need no weight
        graph = graph.with_weights({k: v for k, v in _profile(args).items() if k in nodes})
        profile_src = f"recorded on {args.profile_samples} training samples"
    existed = Path(args.out).exists()
    out = prepare_out_dir(args.out)
    say(args, f"mapping {graph.name}: {len(graph.nodes)} neurons, {len(graph.edges)} synapses, "
              f"max fan-in {graph.max_fan_in} onto {library.name} ({args.method}, {args.objective})")
    try:
        result = map_network(graph, library, objective=args.objective, method=args.method,
                             time_limit=args.time_limit, workers=args.threads, seed=args.seed,
                             start_method=args.start, deterministic_time=args.deterministic_time,
                             external_inputs=args.external_inputs,
                             log=None if args.quiet else (lambda m: print(f"  {m}")))
    except SpikeloomError:
        if not existed and not any(out.iterdir()):
            out.rmdir()  # a refused network leaves no trace, not even an empty --out
        raise
    mapping = result.mapping_dict()
    # re-validate exactly what is written, independently of the solver
    report = check_mapping(graph, library, mapping, external=result.external_inputs)
    summary = result.summary_dict()
    summary.update({"valid": report.valid, "check_errors": list(report.errors),
                    "network_stats": graph.stats(), "profile": profile_src,
                    "crossbar_library": library.to_dict()})
    atomic_write_json(Path(out) / "mapping.json", mapping)
    if not args.no_figure:
        from spikeloom.hw import plot_usage

        plot_usage(result, str(Path(out) / "usage.png"))
        summary["figure"] = "usage.png"
    write_summary(out, summary)
    pk = f", packets {result.packets:g}" if result.packets is not None else ""
    say(args, f"area {result.area} on {result.crossbars_used} crossbars (lower bound {result.lower_bound:g}, "
              f"gap {result.gap:.1%}, {result.status}); routes {result.routes_total}, "
              f"global {result.routes_global}{pk}; valid={report.valid}; wrote {out}/mapping.json")
    return 0 if report.valid else 1
