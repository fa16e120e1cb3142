"""spikeloom datasets: which datasets are available and where their files are."""

from __future__ import annotations

import argparse
import json

from spikeloom.cli.common import add_data_dir


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_data_dir(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    from spikeloom.data.registry import dataset_status  # noqa: PLC0415

    rows = dataset_status(args.data_dir)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        mark = "yes" if row["available"] else "no "
        print(f"{row['name']:<14} {mark}  {row['where']}")
    return 0
