"""Deterministic evaluation: inputs are encoded in fixed chunks with per-chunk seeds, so the
spikes a test sample receives do not depend on batch sizes or on which engine asks."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

from spikeloom.data.encoders import encode, make_generator
from spikeloom.snn.activity import recording
from spikeloom.spec import ModelConfig

EVAL_CHUNK = 500


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def chunk_seed(seed: int, index: int) -> int:
    """Seed of the rate-coding generator of evaluation chunk `index`."""
    return int(seed) * 1_000_003 + index + 1


def model_inputs(cfg: ModelConfig, x: torch.Tensor,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """What the model consumes: x [B, D] for the ANN, the encoded train [T, B, D] for the SNN."""
    if cfg.arch == "ann":
        return x
    return encode(x, cfg.encoding, cfg.timesteps, generator=generator)


def eval_batches(cfg: ModelConfig, x: torch.Tensor, seed: int = 0,
                 device: torch.device | None = None) -> Iterator[tuple[slice, torch.Tensor]]:
    """Yield (rows, model inputs) for `x` [N, D] in chunks of EVAL_CHUNK samples."""
    device = device or x.device
    for index, start in enumerate(range(0, len(x), EVAL_CHUNK)):
        rows = slice(start, min(start + EVAL_CHUNK, len(x)))
        xb = x[rows].to(device)
        gen = make_generator(chunk_seed(seed, index), device) if cfg.arch == "snn" else None
        yield rows, model_inputs(cfg, xb, gen)


@torch.no_grad()
def predict(model: nn.Module, cfg: ModelConfig, x: torch.Tensor, seed: int = 0,
            device: torch.device | None = None) -> torch.Tensor:
    """Predicted classes [N] (int64, on CPU)."""
    device = device or next(model.parameters()).device
    model.eval()
    out = [model(inputs).argmax(1).cpu() for _, inputs in eval_batches(cfg, x, seed, device)]
    return torch.cat(out) if out else torch.empty(0, dtype=torch.long)


def evaluate(model: nn.Module, cfg: ModelConfig, x: torch.Tensor, y: torch.Tensor,
             seed: int = 0) -> float:
    """Accuracy in [0, 1] on (x [N, D], y [N])."""
    if len(y) == 0:
        return float("nan")
    return float((predict(model, cfg, x, seed) == y.cpu()).float().mean())


@torch.no_grad()
def spike_counts(model: nn.Module, cfg: ModelConfig, x: torch.Tensor, seed: int = 0
                 ) -> list[torch.Tensor]:
    """Total spikes per neuron over `x`: [input [D], layer 1 [N1], ..., layer L] (float64).

    Divide by len(x) for per-sample means. Only for SNNs.
    """
    device = next(model.parameters()).device
    totals: list[torch.Tensor] | None = None
    model.eval()
    for _, inputs in eval_batches(cfg, x, seed, device):
        with recording(model) as rec:
            model(inputs)
        trains = [rec.inputs[0], *[layer[0] for layer in rec.layers]]
        sums = [t.sum(dim=(0, 1)).double().cpu() for t in trains]
        totals = sums if totals is None else [a + b for a, b in zip(totals, sums)]
    return totals or []
