"""Flags and helpers shared by several commands."""

from __future__ import annotations

import argparse
import sys


def add_out(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    parser.add_argument("--out", default=default, required=default is None,
                        help="output folder (created if missing); summary.json is written there")


def add_quiet(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def add_seed(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


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
