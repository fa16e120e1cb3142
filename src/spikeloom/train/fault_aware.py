"""Fault-aware training: every training step runs forward and backward through weights that
were quantized to `bits` (symmetric, per tensor, as `spikeloom.quant`) and hit by independent
bit flips at rate `ber` (a fresh mask per step, each bit of each stored weight, two's
complement, as a campaign's `bitflip`); the gradient taken there updates the float weights
(straight-through), so the network learns weights whose function survives flips.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from spikeloom.faults.bits import bit_mask, flip_bits


def faulty_copy(w: torch.Tensor, bits: int, ber: float, gen: torch.Generator) -> torch.Tensor:
    """`w` quantized to `bits` per tensor, its stored bits flipped with probability `ber`,
    dequantized (same shape, dtype and device)."""
    qmax = (1 << (bits - 1)) - 1
    scale = w.detach().abs().max().clamp_min(1e-12) / qmax
    q = torch.round(w.detach() / scale).clamp(-qmax, qmax).to(torch.int32).cpu()
    hits = (torch.rand(q.numel() * bits, generator=gen) < ber).nonzero().flatten()
    if len(hits):
        q = flip_bits(q, bit_mask(hits, tuple(q.shape), bits), bits)
    return (q.to(w.dtype) * scale).to(w.device)


@contextmanager
def faulty_weights(model: nn.Module, ber: float, bits: int, gen: torch.Generator) -> Iterator[None]:
    """Inside the block every `model.fcs[i].weight` holds a faulty copy; the float weights are
    put back on exit (the gradients stay, for the optimizer step that follows)."""
    if ber <= 0:
        yield
        return
    layers = list(model.fcs)
    saved = [fc.weight.data.clone() for fc in layers]
    with torch.no_grad():
        for fc in layers:
            fc.weight.data.copy_(faulty_copy(fc.weight.data, bits, ber, gen))
    try:
        yield
    finally:
        with torch.no_grad():
            for fc, w in zip(layers, saved):
                fc.weight.data.copy_(w)
