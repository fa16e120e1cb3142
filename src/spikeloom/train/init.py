"""Data-driven initialisation of a deep SNN: scale each layer's initial weights so that it
fires, layer after layer, before training starts.

From PyTorch's default initialisation (uniform +-1/sqrt(fan-in)) the input current of a
deep LIF layer shrinks with the sparse spikes feeding it: in 784-512-256-256-128-10 at
theta 1.5 layer 3 onwards never reaches threshold, so training only sees the surrogate's
far tail and the network stays at chance. Like LSUV for ANNs (Mishkin & Matas 2016), the
fix is measured on data: for l = 1..L, multiply layer l's weights (and bias) by the factor
that makes its mean firing rate on a batch of training samples equal `target_rate` spikes
per neuron per step (bisection on log2 of the factor; the rate grows with the factor).
Spiking neurons stay scale-covariant, so this changes where training starts, not what the
network can express.
"""

from __future__ import annotations

import torch
from torch import nn

TARGET_RATE = 0.1  # spikes per neuron per step, fixed a priori (not tuned on any result)


def _scale_to_rate(fc: nn.Linear, neuron: nn.Module, h: torch.Tensor, target_rate: float,
                   steps: int, span: float) -> float:
    """Scale `fc` in place so that neuron(fc(h)) fires at `target_rate`; returns the factor."""
    base = [p.detach().clone() for p in fc.parameters()]

    def rate(log2: float) -> float:
        for p, b in zip(fc.parameters(), base):
            p.copy_(b * 2.0 ** log2)
        return float(neuron(fc(h)).mean())

    lo, hi = -span, span
    for _ in range(steps):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if rate(mid) < target_rate else (lo, mid)
    rate((lo + hi) / 2)
    return 2.0 ** ((lo + hi) / 2)


@torch.no_grad()
def calibrate_rates(model: nn.Module, inputs: torch.Tensor, target_rate: float = TARGET_RATE,
                    steps: int = 20, span: float = 8.0) -> list[float]:
    """Scale each spiking layer of `model` (a `SpikingMLP`) in place, first to last, so its
    mean rate on `inputs` [T, B, D] is `target_rate`; returns the factor per layer. A
    membrane-readout output layer (no spikes) keeps its weights. Factors lie in
    [2**-span, 2**span]."""
    factors = []
    h = inputs
    for fc, neuron in zip(model.fcs, model.lifs):
        if not hasattr(neuron, "threshold"):  # membrane readout: nothing to fire
            break
        factors.append(_scale_to_rate(fc, neuron, h, target_rate, steps, span))
        h = neuron(fc(h))
    return factors
