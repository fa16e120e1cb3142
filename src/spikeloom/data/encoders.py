"""Spike encoders: static inputs x [B, D] in [0, 1] -> input trains [T, B, D].

rate     Bernoulli spike with probability x at every timestep (seeded).
latency  one spike at t = round((1 - x) (T - 1)): bright pixels fire first; x <= 0 never fires.
direct   the analogue value x injected as a current at every timestep.
"""

from __future__ import annotations

import torch

from spikeloom.errors import ConfigError
from spikeloom.spec import ENCODINGS


def rate(x: torch.Tensor, timesteps: int, generator: torch.Generator | None = None) -> torch.Tensor:
    u = torch.rand((timesteps, *x.shape), generator=generator, device=x.device, dtype=x.dtype)
    return (u < x.clamp(0, 1)).to(x.dtype)


def latency(x: torch.Tensor, timesteps: int) -> torch.Tensor:
    x = x.clamp(0, 1)
    t_fire = torch.round((1.0 - x) * (timesteps - 1)).long()
    steps = torch.arange(timesteps, device=x.device).view(-1, *([1] * x.dim()))
    return ((steps == t_fire) & (x > 0)).to(x.dtype)


def direct(x: torch.Tensor, timesteps: int) -> torch.Tensor:
    return x.unsqueeze(0).expand(timesteps, *x.shape).contiguous()


def make_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g


def encode(x: torch.Tensor, encoding: str, timesteps: int,
           generator: torch.Generator | None = None, seed: int | None = None) -> torch.Tensor:
    """Encode a batch `x` [B, D] as a spike/current train [T, B, D].

    Rate coding draws from `generator` (or a fresh one seeded with `seed`), so the same seed
    gives the same spikes.
    """
    if timesteps < 1:
        raise ConfigError(f"timesteps must be a positive integer, got {timesteps}")
    if encoding == "rate":
        if generator is None and seed is not None:
            generator = make_generator(seed, x.device)
        return rate(x, timesteps, generator)
    if encoding == "latency":
        return latency(x, timesteps)
    if encoding == "direct":
        return direct(x, timesteps)
    raise ConfigError(f"unknown encoding {encoding!r}; choose one of {', '.join(ENCODINGS)}")
