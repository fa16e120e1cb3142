"""spikeloom run: the whole co-design pipeline (ANN, SNN grid, fault campaigns, energy,
selection, explanations, crossbar mapping) with an HTML report."""

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


def run(args: argparse.Namespace) -> int:
    out = args.out or Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    execute(args, out, explain=not args.no_explain, map_crossbars=not args.no_map)
    return 0
