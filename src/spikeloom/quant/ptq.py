"""Symmetric post-training quantization of weights to signed n-bit integers.

    q = clamp(round(w / s), -(2^(n-1) - 1), 2^(n-1) - 1),   s = max|w| / (2^(n-1) - 1)

per tensor (one scale per layer) or per channel (one scale per output neuron, i.e. per row of
the [out, in] weight). The quantized model computes every layer as (x @ q^T) * s: the integer
accumulation is exact in float32 for spike inputs, so any two ways of summing it agree bit for
bit (the fault engines rely on this).
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from spikeloom.errors import ConfigError

MIN_BITS, MAX_BITS = 2, 16


def check_bits(bits: int) -> int:
    """Return `bits` as int; `ConfigError` unless it is an integer in 2..16."""
    if isinstance(bits, bool) or int(bits) != bits or not MIN_BITS <= bits <= MAX_BITS:
        raise ConfigError(f"bit width must be an integer from {MIN_BITS} to {MAX_BITS}, got {bits}")
    return int(bits)


def qmax(bits: int) -> int:
    """Largest magnitude a symmetric n-bit weight takes (127 for 8 bits)."""
    return 2 ** (check_bits(bits) - 1) - 1


def quantize_tensor(w: torch.Tensor, bits: int = 8, per_channel: bool = False
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """w [out, in] float -> (q [out, in] int32, scale [] or [out] float32).

    An all-zero tensor (or row) gets scale 1 so that dequantization stays finite.
    """
    top = qmax(bits)
    w = w.detach().float()
    peak = w.abs().amax(dim=1) if per_channel else w.abs().max()
    scale = torch.where(peak > 0, peak / top, torch.ones_like(peak))
    divisor = scale.unsqueeze(1) if per_channel else scale
    q = torch.round(w / divisor).clamp(-top, top).to(torch.int32)
    return q, scale.float()


def dequantize(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """q [out, in] ints, scale [] or [out] -> float weight [out, in]."""
    s = scale.unsqueeze(1) if scale.dim() == 1 else scale
    return q.float() * s


@dataclass(frozen=True)
class QuantizedWeights:
    """Integer weights of every layer. q[i]: [out_i, in_i] int32; scale[i]: [] or [out_i]
    (on the CPU).

    bits: the bit width (the widest one when layers differ); layer_bits: each layer's width
    when they differ (mixed precision, as the architecture search makes), else None."""

    bits: int
    per_channel: bool
    q: tuple[torch.Tensor, ...]
    scale: tuple[torch.Tensor, ...]
    layer_bits: tuple[int, ...] | None = None

    def bits_of(self, layer: int) -> int:
        """Bit width of 1-based `layer`."""
        return self.bits if self.layer_bits is None else self.layer_bits[layer - 1]

    @property
    def scheme(self) -> dict:
        return {"bits": self.bits, "per_channel": self.per_channel, "symmetric": True}

    def dequantized(self) -> list[torch.Tensor]:
        return [dequantize(q, s) for q, s in zip(self.q, self.scale)]

    def with_q(self, q: list[torch.Tensor] | tuple[torch.Tensor, ...]) -> QuantizedWeights:
        """The same scheme and scales with other integer weights (e.g. faulty ones)."""
        return QuantizedWeights(self.bits, self.per_channel, tuple(q), self.scale, self.layer_bits)

    def to_dict(self) -> dict:
        """Plain values and tensors, storable in `Checkpoint.extra` (weights_only-safe)."""
        return {**self.scheme, "q": [t.clone() for t in self.q], "scale": [t.clone() for t in self.scale],
                "layer_bits": None if self.layer_bits is None else list(self.layer_bits)}

    @classmethod
    def from_dict(cls, data: dict) -> QuantizedWeights:
        return cls(check_bits(data["bits"]), bool(data["per_channel"]),
                   tuple(torch.as_tensor(t).to(torch.int32) for t in data["q"]),
                   tuple(torch.as_tensor(t).float() for t in data["scale"]),
                   None if data.get("layer_bits") is None else tuple(check_bits(b) for b in data["layer_bits"]))


class QuantizedLinear(nn.Module):
    """A bias-optional linear layer computing (x @ q^T) * scale (+ bias).

    `weight` holds the dequantized weight for readers (mappers, explainers); `q` and `scale`
    are what the forward uses. bits / per_channel record the scheme.
    """

    def __init__(self, q: torch.Tensor, scale: torch.Tensor, bits: int, per_channel: bool,
                 bias: torch.Tensor | None = None) -> None:
        super().__init__()
        self.bits, self.per_channel = bits, per_channel
        self.out_features, self.in_features = q.shape
        self.register_buffer("q", q.float())
        self.register_buffer("scale", scale.float())
        # a (frozen) parameter, so code that asks `next(model.parameters())` finds the device
        self.weight = nn.Parameter(dequantize(q, scale), requires_grad=False)
        self.register_buffer("bias", None if bias is None else bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.linear(x, self.q) * self.scale
        return out if self.bias is None else out + self.bias

    def extra_repr(self) -> str:
        kind = "per-channel" if self.per_channel else "per-tensor"
        return f"{self.in_features} -> {self.out_features}, int{self.bits} {kind}"


def _linears(model: nn.Module) -> nn.ModuleList:
    fcs = getattr(model, "fcs", None)
    if not isinstance(fcs, nn.ModuleList) or len(fcs) == 0:
        raise ConfigError("model has no `fcs` layers to quantize; build it with spikeloom.snn")
    return fcs


def quantize_model(model: nn.Module, bits: int = 8, per_channel: bool = False) -> QuantizedWeights:
    """Quantize every `fcs` weight of an ANN or SNN (same procedure for both).

    A model that is already quantized (from `apply_quantized`) must be asked for its own scheme;
    its integers are returned unchanged.
    """
    bits = check_bits(bits)
    existing = quantization_of(model)
    if existing is not None:
        if existing.bits != bits or existing.per_channel != per_channel:
            raise ConfigError(
                f"model is already quantized to int{existing.bits} "
                f"{'per-channel' if existing.per_channel else 'per-tensor'}; ask for that scheme "
                "or start from the float checkpoint")
        return existing
    pairs = [quantize_tensor(fc.weight, bits, per_channel) for fc in _linears(model)]
    # kept on the CPU like `quantization_of`'s: fault sampling reads them every trial there, and
    # `apply_quantized` puts them on the model's device once
    return QuantizedWeights(bits, per_channel, tuple(q.cpu() for q, _ in pairs),
                            tuple(s.cpu() for _, s in pairs))


def quantization_of(model: nn.Module) -> QuantizedWeights | None:
    """The integer weights a quantized model computes with, or None for a float model."""
    fcs = _linears(model)
    if not all(isinstance(fc, QuantizedLinear) for fc in fcs):
        return None
    widths = tuple(int(fc.bits) for fc in fcs)
    return QuantizedWeights(max(widths), fcs[0].per_channel,
                            tuple(fc.q.to(torch.int32).cpu() for fc in fcs),
                            tuple(fc.scale.cpu() for fc in fcs),
                            widths if len(set(widths)) > 1 else None)


def apply_quantized(model: nn.Module, qw: QuantizedWeights) -> nn.Module:
    """A copy of `model` whose layers compute with the dequantized integers of `qw`."""
    fcs = _linears(model)
    if len(fcs) != len(qw.q):
        raise ConfigError(f"quantized weights have {len(qw.q)} layers, the model {len(fcs)}")
    out = copy.deepcopy(model)
    device = next(itertools.chain(model.parameters(), model.buffers()), torch.empty(0)).device
    for i, (fc, q, s) in enumerate(zip(fcs, qw.q, qw.scale)):
        if tuple(q.shape) != (fc.out_features, fc.in_features):
            raise ConfigError(f"layer {i + 1}: quantized shape {tuple(q.shape)} does not match "
                              f"the model's {(fc.out_features, fc.in_features)}")
        out.fcs[i] = QuantizedLinear(q, s, qw.bits_of(i + 1), qw.per_channel, fc.bias).to(device)
    return out.eval()
