"""Surrogate gradients for the Heaviside spike function S = H(v), v = U - theta.

Forward is the exact step (v > 0); backward replaces dS/dv by a smooth pseudo-derivative:

fast_sigmoid  1 / (slope |v| + 1)^2                      (Zenke & Ganguli; snnTorch default)
arctan        (slope / 2) / (1 + (pi/2 * slope * v)^2)   (snnTorch `atan`, alpha = slope)
triangle      slope * max(0, 1 - slope |v|)              (unit area, support |v| < 1/slope)
"""

from __future__ import annotations

import math

import torch

from spikeloom.errors import ConfigError


def surrogate_grad(v: torch.Tensor, kind: str, slope: float) -> torch.Tensor:
    """dS/dv as used in the backward pass, same shape as `v`."""
    if kind == "fast_sigmoid":
        return 1.0 / (slope * v.abs() + 1.0) ** 2
    if kind == "arctan":
        return (slope / 2.0) / (1.0 + (math.pi / 2.0 * slope * v) ** 2)
    if kind == "triangle":
        return slope * torch.clamp(1.0 - slope * v.abs(), min=0.0)
    raise ConfigError(f"unknown surrogate {kind!r}; choose fast_sigmoid, arctan or triangle")


def surrogate_grad_times(v: torch.Tensor, grad: torch.Tensor, kind: str, slope: float) -> torch.Tensor:
    """grad * surrogate_grad(v), computed in place in `v` (which it overwrites and returns).

    The backward pass of the fused neuron calls this on a scratch tensor, so the surrogate
    costs a handful of in-place kernels and no temporaries. Each kernel is the one
    `grad * surrogate_grad(v, kind, slope)` runs, in the same order, so the result is the
    same to the last bit (a division instead of reciprocal-then-multiply would round
    differently and change training runs).
    """
    if kind == "fast_sigmoid":  # grad * 1 / (slope |v| + 1)^2
        return v.abs_().mul_(slope).add_(1.0).square_().reciprocal_().mul_(grad)
    if kind == "arctan":  # grad * (slope / 2) / (1 + (pi/2 slope v)^2)
        return v.mul_(math.pi / 2.0 * slope).square_().add_(1.0).reciprocal_().mul_(slope / 2.0).mul_(grad)
    if kind == "triangle":  # grad * slope * max(0, 1 - slope |v|)
        v.abs_().mul_(-slope).add_(1.0).clamp_(min=0.0).mul_(slope)
        return v.mul_(grad)
    raise ConfigError(f"unknown surrogate {kind!r}; choose fast_sigmoid, arctan or triangle")


class _SpikeFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, v: torch.Tensor, kind: str, slope: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(v)
        ctx.kind, ctx.slope = kind, slope
        return (v > 0).to(v.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (v,) = ctx.saved_tensors
        return grad * surrogate_grad(v, ctx.kind, ctx.slope), None, None


def spike(v: torch.Tensor, kind: str = "fast_sigmoid", slope: float = 25.0) -> torch.Tensor:
    """Heaviside H(v) (1 where v > 0) with the chosen surrogate gradient."""
    return _SpikeFn.apply(v, kind, slope)
