"""spikeloom run: the whole co-design pipeline (ANN, SNN grid, fault campaigns, energy,
selection, explanations, crossbar mapping, optionally an architecture search) with an HTML
report."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from spikeloom.cli.cmd_search import add_search_arguments, execute

CURVE_BERS = [1e-4, 1e-3, 1e-2, 1e-1]


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_search_arguments(p, timesteps=[10, 30], trials=20, scope="both", curve_bers=CURVE_BERS)
    p.add_argument("--out", default=None, help="output folder (default runs/<timestamp>)")
    p.add_argument("--no-explain", action="store_true", help="skip the explanation section")
    p.add_argument("--no-map", action="store_true", help="skip the crossbar mapping section")
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


def run(args: argparse.Namespace) -> int:
    from spikeloom.search.nas.stage import NasStage  # noqa: PLC0415

    nas = NasStage(trials=args.nas_trials, strategy=args.nas_strategy, fidelity=args.nas_fidelity,
                   objectives=args.nas_objectives, space=args.nas_space)
    out = args.out or Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    execute(args, out, explain=not args.no_explain, map_crossbars=not args.no_map, nas=nas)
    return 0
