"""Accuracy under the evaluation protocol: per-sample correctness and its mean."""

from __future__ import annotations

import torch
from torch import nn

from spikeloom.snn.inference import predict
from spikeloom.spec import ModelConfig


def correct(model: nn.Module, cfg: ModelConfig, x: torch.Tensor, y: torch.Tensor,
            seed: int = 0) -> torch.Tensor:
    """Whether each sample of (x [N, D], y [N]) is classified correctly: bool [N] on CPU."""
    return predict(model, cfg, x, seed) == y.cpu()


def evaluate(model: nn.Module, cfg: ModelConfig, x: torch.Tensor, y: torch.Tensor,
             seed: int = 0) -> float:
    """Accuracy in [0, 1] on (x [N, D], y [N]); NaN for an empty set."""
    if len(y) == 0:
        return float("nan")
    return float(correct(model, cfg, x, y, seed).float().mean())
