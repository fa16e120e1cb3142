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


def eval_batches(cfg: ModelConfig, x: torch.Tensor, seed: int = 0,
                 device: torch.device | None = None) -> Iterator[tuple[slice, torch.Tensor]]:
    """Yield (rows, model inputs) for `x` [N, D] in chunks of EVAL_CHUNK samples."""
    device = device or x.device
    for index, start in enumerate(range(0, len(x), EVAL_CHUNK)):
        rows = slice(start, min(start + EVAL_CHUNK, len(x)))
        xb = x[rows].to(device)
        gen = make_generator(chunk_seed(seed, index), device) if cfg.arch == "snn" else None
        yield rows, model_inputs(cfg, xb, gen)
