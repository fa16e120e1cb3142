"""A trained SNN a search starts from (`spikeloom search --model CHECKPOINT`), e.g. one
brought in with `spikeloom import`.

Its configuration fixes what the grid does not vary (topology, neuron model, reset, readout,
encoding, biases): every grid SNN is its configuration with the grid's (T, theta). Its
synaptic weights initialise each grid SNN's training (fine-tuning; `--epochs 0` measures
the weights as they are at each (T, theta)), and it is measured itself, untouched, as the
candidate 'start'. The ANN keeps its own training from scratch: it is the reference.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from spikeloom.errors import ConfigError
from spikeloom.spec import ModelConfig, format_topology

START = "start"  # the starting model's candidate name


@dataclass(frozen=True)
class StartModel:
    """path: the checkpoint file; sha256: its digest (recorded in the grid SNNs' train
    configs, so a changed file is never mistaken for the one a cached model started from);
    config: its model configuration; state: its state dict."""

    path: str
    sha256: str
    config: ModelConfig
    state: dict[str, torch.Tensor]


def load_start(path: str | Path) -> StartModel:
    """Read a starting checkpoint (model.pt or its folder); one-line errors for a missing,
    corrupt or non-SNN file."""
    from spikeloom.snn.checkpoint import load_checkpoint  # noqa: PLC0415

    path = Path(path) / "model.pt" if Path(path).is_dir() else Path(path)
    ckpt = load_checkpoint(path)
    if ckpt.model_config.arch != "snn":
        raise ConfigError(f"--model {str(path)!r} is an ANN; a search starts from an SNN "
                          "(the ANN reference is trained by the search itself)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return StartModel(str(path), digest, ckpt.model_config, ckpt.state_dict)


def check_start_topology(start: StartModel, topology: tuple[int, ...] | None) -> tuple[int, ...]:
    """The search topology: the starting model's; a different `--topology` is refused."""
    own = start.config.topology
    if topology is not None and tuple(topology) != own:
        raise ConfigError(f"--topology {format_topology(tuple(topology))} differs from the starting "
                          f"model's {format_topology(own)}; leave --topology out with --model")
    return own


def check_start_strategy(strategy: str, start: str | None) -> None:
    """Only the grid search starts from a model."""
    if start and strategy != "grid":
        raise ConfigError("--model starts the grid search (--strategy grid); the Optuna search "
                          "samples hidden widths that the starting model's weights do not fit")
