"""The executor flags (`--executor`, `--workers`, `--ray-address`) of every command that runs
independent work units, and the `ExecutorConfig` they describe."""

from __future__ import annotations

import argparse

from spikeloom.executor import EXECUTORS, ExecutorConfig


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --executor, --workers and --ray-address to `parser`."""
    group = parser.add_argument_group("executor (where independent work units run)")
    group.add_argument("--executor", choices=EXECUTORS, default="inprocess",
                       help="inprocess (default), processes (local worker processes) or ray "
                            "(a Ray cluster; needs pip install 'spikeloom[ray]')")
    group.add_argument("--workers", type=int, default=None,
                       help="worker processes / CPUs of a local Ray cluster / units in flight on "
                            "an existing cluster (default: the CPU count, or the cluster's)")
    group.add_argument("--ray-address", default=None, metavar="ADDR",
                       help="existing Ray cluster, e.g. 10.0.0.5:6379 or ray://10.0.0.5:10001 "
                            "(default: start a local one for the run)")


def executor_config(args: argparse.Namespace) -> ExecutorConfig:
    """The `ExecutorConfig` of parsed executor flags (`ConfigError` for a bad combination)."""
    return ExecutorConfig(kind=args.executor, workers=args.workers, ray_address=args.ray_address)
