"""The evaluation protocol's inputs: test samples are encoded in fixed chunks with a seed per
chunk, so the spikes a sample receives do not depend on batch sizes, engines or devices.

Every evaluation (accuracy, spike counts, fault campaigns, explanations) reads its inputs from
`eval_batches`; `spikeloom.measure` is where the figures are computed from them.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from spikeloom.data.encoders import encode, make_generator
from spikeloom.spec import ModelConfig

EVAL_CHUNK = 500


def chunk_seed(seed: int, index: int) -> int:
    """Seed of the rate-coding generator of evaluation chunk `index`."""
    return int(seed) * 1_000_003 + index + 1


def model_inputs(cfg: ModelConfig, x: torch.Tensor,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """What the model consumes: x [B, D] for the ANN, the encoded train [T, B, D] for the SNN."""
    if cfg.arch == "ann":
        return x
    return encode(x, cfg.encoding, cfg.timesteps, generator=generator)


def chunk_inputs(cfg: ModelConfig, x: torch.Tensor, index: int, seed: int = 0,
                 device: torch.device | None = None) -> tuple[slice, torch.Tensor]:
    """(rows, model inputs) of evaluation chunk `index` of x [N, D]."""
    device = device or x.device
    start = index * EVAL_CHUNK
    rows = slice(start, min(start + EVAL_CHUNK, len(x)))
    gen = make_generator(chunk_seed(seed, index), device) if cfg.arch == "snn" else None
    return rows, model_inputs(cfg, x[rows].to(device), gen)


def eval_batches(cfg: ModelConfig, x: torch.Tensor, seed: int = 0,
                 device: torch.device | None = None) -> Iterator[tuple[slice, torch.Tensor]]:
    """Yield (rows, model inputs) for `x` [N, D] in chunks of EVAL_CHUNK samples."""
    for index in range((len(x) + EVAL_CHUNK - 1) // EVAL_CHUNK):
        yield chunk_inputs(cfg, x, index, seed, device)


def sample_inputs(cfg: ModelConfig, x: torch.Tensor, indices: list[int] | tuple[int, ...], seed: int = 0,
                  device: torch.device | None = None) -> torch.Tensor:
    """The model inputs of samples `indices` of x exactly as `eval_batches` encodes them
    (same chunk, same generator stream): [T, n, D] for an SNN, [n, D] for an ANN."""
    chunks = {i // EVAL_CHUNK: chunk_inputs(cfg, x, i // EVAL_CHUNK, seed, device)[1] for i in indices}
    axis = 1 if cfg.arch == "snn" else 0
    return torch.stack([chunks[i // EVAL_CHUNK].select(axis, i % EVAL_CHUNK) for i in indices], dim=axis)
