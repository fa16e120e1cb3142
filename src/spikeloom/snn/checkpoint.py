"""Checkpoints: one `torch.save` dict of plain values and tensors, written atomically and
read back with `torch.load(weights_only=True)`, so a stranger's file cannot run code."""

from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from spikeloom.errors import CheckpointError
from spikeloom.io import atomic_write
from spikeloom.snn.models import build_model
from spikeloom.spec import ModelConfig, TrainConfig

FORMAT = "spikeloom-checkpoint"
VERSION = 1


@dataclass
class Checkpoint:
    """A model with the full configuration that made it.

    epoch: training epochs completed; resume_state: optimizer and RNG states for resuming;
    metrics: figures measured on it (e.g. test_accuracy); extra: data of later stages.
    """

    model_config: ModelConfig
    train_config: TrainConfig
    state_dict: dict[str, torch.Tensor]
    epoch: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    resume_state: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.epoch >= self.train_config.epochs

    def build(self, device: torch.device | str = "cpu") -> torch.nn.Module:
        """The model with these weights, in eval mode."""
        model = build_model(self.model_config)
        model.load_state_dict(self.state_dict)
        return model.to(device).eval()


def save_checkpoint(path: str | Path, ckpt: Checkpoint) -> Path:
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "model_config": ckpt.model_config.to_dict(),
        "train_config": ckpt.train_config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in ckpt.state_dict.items()},
        "epoch": ckpt.epoch,
        "metrics": ckpt.metrics,
        "resume_state": ckpt.resume_state,
        "extra": ckpt.extra,
    }
    return atomic_write(path, lambda tmp: torch.save(payload, tmp))


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint; `CheckpointError` (one line) when missing, corrupt or foreign."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} not found; train one with 'spikeloom train --out DIR'")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, ValueError,
            AttributeError, KeyError) as exc:
        raise CheckpointError(f"{str(path)!r} is not a readable spikeloom checkpoint "
                              f"({type(exc).__name__}: corrupt, truncated or not a safe "
                              "PyTorch file); re-train or copy it again") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{str(path)!r} is not a spikeloom checkpoint; "
                              "give a model.pt written by 'spikeloom train'")
    if payload.get("version", 0) > VERSION:
        raise CheckpointError(f"{str(path)!r} was written by a newer spikeloom "
                              f"(format {payload['version']}); upgrade spikeloom")
    try:
        ckpt = Checkpoint(
            model_config=ModelConfig.from_dict(payload["model_config"]),
            train_config=TrainConfig.from_dict(payload["train_config"]),
            state_dict=payload["state_dict"],
            epoch=int(payload.get("epoch", 0)),
            metrics=dict(payload.get("metrics", {})),
            resume_state=dict(payload.get("resume_state", {})),
            extra=dict(payload.get("extra", {})),
        )
        ckpt.build()
    except (KeyError, TypeError, RuntimeError) as exc:
        raise CheckpointError(f"{str(path)!r} is damaged ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0][:120]}); re-train it") from None
    return ckpt
