"""Two's complement views of n-bit integer weights and the bit faults applied to them.

A weight q in [-2^(n-1), 2^(n-1) - 1] is stored as the unsigned code u = q mod 2^n; bit b of
u is one memory cell. Masks are integer tensors whose set bits mark the affected cells.
"""

from __future__ import annotations

import math

import torch


def to_code(q: torch.Tensor, bits: int) -> torch.Tensor:
    """Signed ints -> unsigned n-bit two's complement codes (int64)."""
    return q.to(torch.int64) & ((1 << bits) - 1)


def from_code(u: torch.Tensor, bits: int) -> torch.Tensor:
    """Unsigned n-bit codes -> signed ints (int32)."""
    u = u.to(torch.int64)
    return torch.where(u >= (1 << (bits - 1)), u - (1 << bits), u).to(torch.int32)


def flip_bits(q: torch.Tensor, mask: torch.Tensor, bits: int) -> torch.Tensor:
    """Transient bit flips: every set bit of `mask` inverts that bit of the stored weight."""
    return from_code(to_code(q, bits) ^ mask.to(torch.int64), bits)


def stuck_at(q: torch.Tensor, mask: torch.Tensor, value: int, bits: int) -> torch.Tensor:
    """Permanent stuck-at faults: masked bits read as `value` (0 or 1)."""
    m = mask.to(torch.int64)
    u = to_code(q, bits)
    return from_code(u | m if value else u & ~m, bits)


def bit_mask(hits: torch.Tensor, shape: tuple[int, ...], bits: int) -> torch.Tensor:
    """Hit cells -> integer masks [*shape] (int64). hits: ascending flat indices into
    [*shape, bits] (index w * bits + b: bit b of weight w)."""
    mask = torch.zeros(math.prod(shape), dtype=torch.int64)
    mask.index_add_(0, hits // bits, 1 << (hits % bits))  # distinct cells: add is or
    return mask.view(shape)
