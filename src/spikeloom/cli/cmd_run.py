"""spikeloom run: the whole co-design pipeline (ANN, SNN grid, fault campaigns, energy,
selection, explanations, crossbar mapping, optionally an architecture search) with an HTML
report."""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

from spikeloom.cli.cmd_search import add_search_arguments, execute

CURVE_BERS = [1e-4, 1e-3, 1e-2, 1e-1]


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_search_arguments(p, timesteps=[10, 30], trials=20, scope="both", curve_bers=CURVE_BERS)
    p.add_argument("--out", default=None, help="output folder (default runs/<timestamp>)")
    p.add_argument("--no-explain", action="store_true", help="skip the explanation section")
    p.add_argument("--no-map", action="store_true", help="skip the crossbar mapping section")
    p.add_argument("--map-crossbars", default="table2",
                   help="crossbar library of the mapping: homogeneous:AxN, table2 or a JSON/YAML file (default table2)")
    p.add_argument("--map-time-limit", type=float, default=20.0, help="seconds for the mapping (default 20)")
    p.add_argument("--map-threads", type=int, default=2, help="CP-SAT search threads of the mapping (default 2)")
    p.add_argument("--explain-samples", type=int, nargs="+", default=[0, 1], metavar="INDEX",
                   help="test sample indices the explanation shows (default 0 1)")
    p.add_argument("--explain-methods", default="all",
                   help="comma-separated explanation methods (see 'spikeloom explain --help'; default all)")
    p.add_argument("--nas-trials", type=int, default=0,
                   help="architecture search trials after the hyperparameter search (default 0: none)")
    p.add_argument("--nas-strategy", default="tpe", choices=("grid", "random", "evolution", "tpe", "gp"),
                   help="architecture search strategy (default tpe)")
    p.add_argument("--nas-fidelity", default="full", choices=("full", "low", "proxy"),
                   help="architecture search fidelity (default full; low/proxy add the proxy correlation)")
    p.add_argument("--nas-objectives", default="accuracy,energy,area",
                   help="architecture search objectives (default accuracy,energy,area)")
    p.add_argument("--nas-space", default=None, metavar="FILE",
                   help="architecture search space YAML/JSON (default: built in, with the run's "
                        "timesteps, thresholds and beta)")


def check_extras(args: argparse.Namespace) -> None:
    """One line naming the missing extra, before anything runs or is written."""
    from spikeloom.errors import ConfigError  # noqa: PLC0415

    needs = []
    if not args.no_explain:
        needs.append(("captum", "explain", "the explanation section", "--no-explain"))
    if not args.no_map or "area" in args.nas_objectives or "routes" in args.nas_objectives:
        needs.append(("ortools", "hw", "the crossbar mapping", "--no-map"))
    if args.strategy == "optuna" or args.nas_trials > 0:
        needs.append(("optuna", "search", "the Optuna and architecture searches", "--strategy grid --nas-trials 0"))
    for module, extra, what, skip in needs:
        if importlib.util.find_spec(module) is None:
            raise ConfigError(f"{what} needs {module}, which is not installed: pip install "
                              f"'spikeloom[{extra}]' (or skip it with {skip})")


def run(args: argparse.Namespace) -> int:
    from spikeloom.errors import ConfigError  # noqa: PLC0415
    from spikeloom.hw import parse_library  # noqa: PLC0415
    from spikeloom.search.nas.stage import NasStage  # noqa: PLC0415

    check_extras(args)
    if not args.map_time_limit > 0 or args.map_threads < 1:
        raise ConfigError("--map-time-limit must be > 0 seconds and --map-threads >= 1")
    if any(i < 0 for i in args.explain_samples):
        raise ConfigError(f"--explain-samples are test sample indices >= 0, got {args.explain_samples}")
    if not args.no_explain:
        from spikeloom.explain import parse_methods  # noqa: PLC0415

        parse_methods(args.explain_methods)
    if not args.no_map:
        parse_library(args.map_crossbars)
    nas = NasStage(trials=args.nas_trials, strategy=args.nas_strategy, fidelity=args.nas_fidelity,
                   objectives=args.nas_objectives, space=args.nas_space)
    out = args.out or Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    execute(args, out, explain=not args.no_explain, map_crossbars=not args.no_map, nas=nas,
            explain_samples=tuple(args.explain_samples), explain_methods=args.explain_methods,
            map_library=args.map_crossbars, map_time_limit=args.map_time_limit,
            map_threads=args.map_threads)
    return 0
