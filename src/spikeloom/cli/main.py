"""`spikeloom COMMAND ...` entry point.

Each command lives in its own module `spikeloom.cli.cmd_<name>` exposing
`add_arguments(parser)` and `run(args) -> int`; modules are imported only when their
command runs, so `spikeloom map` works without PyTorch and `--help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence

from spikeloom import __version__
from spikeloom.errors import SpikeloomError

# name -> (module, one-line help). Order is the order shown in --help.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("cmd_run", "the whole co-design pipeline on a dataset, with an HTML report"),
    "train": ("cmd_train", "train an SNN or ANN and save a checkpoint"),
    "eval": ("cmd_eval", "re-measure a checkpoint's test accuracy"),
    "quantize": ("cmd_quantize", "post-training quantization of a checkpoint to n-bit integers"),
    "datasets": ("cmd_datasets", "list datasets and where their files are"),
    "faults": ("cmd_faults", "fault-injection campaign (bit flips, stuck-at, neuron faults)"),
    "energy": ("cmd_energy", "operation counts and energy per sample"),
    "reproduce": ("cmd_reproduce", "the reliability-aware co-design paper's whole experiment, figures and table"),
    "search": ("cmd_search", "reliability-aware search of SNN configurations"),
    "explain": ("cmd_explain", "explain a trained SNN (activity, attributions, rules)"),
    "map": ("cmd_map", "map a network onto memristor crossbars with CP-SAT"),
    "nas": ("cmd_nas", "architecture search with hardware co-exploration"),
    "import": ("cmd_import", "a NIR file from another SNN framework -> a spikeloom checkpoint"),
    "export": ("cmd_export", "a checkpoint -> NIR, or the mapper's view as TENNLab JSON"),
}


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error message and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def _available() -> dict[str, tuple[str, str]]:
    found = {}
    for name, (module, help_) in COMMANDS.items():
        if importlib.util.find_spec(f"spikeloom.cli.{module}") is not None:
            found[name] = (module, help_)
    return found


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only `command`'s module is imported to add its flags."""
    parser = _Parser(prog="spikeloom", description="Hardware/software co-design of spiking neural networks.")
    parser.add_argument("--version", action="version", version=f"spikeloom {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (module, help_) in _available().items():
        p = sub.add_parser(name, help=help_, description=help_)
        if name == command:
            importlib.import_module(f"spikeloom.cli.{module}").add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return 2
    module = importlib.import_module(f"spikeloom.cli.{COMMANDS[args.command][0]}")
    try:
        return int(module.run(args) or 0)
    except SpikeloomError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; finished work was saved, re-run the same command to resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
