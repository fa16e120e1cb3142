"""Activity recording through forward hooks, without editing the model."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn

from spikeloom.snn.models import LIF


@dataclass
class Recording:
    """What the hooks saw: `inputs[k]` is the k-th forward's input [T, B, D];
    `layers[i][k]` the spikes [T, B, N_i] of LIF layer i in that forward."""

    inputs: list[torch.Tensor] = field(default_factory=list)
    layers: list[list[torch.Tensor]] = field(default_factory=list)


@contextmanager
def recording(model: nn.Module) -> Iterator[Recording]:
    """Record the input and every LIF layer's spikes of each forward inside the block."""
    rec = Recording()
    lifs = [m for m in model.modules() if isinstance(m, LIF)]
    rec.layers = [[] for _ in lifs]
    handles = [model.register_forward_pre_hook(lambda _m, args: rec.inputs.append(args[0].detach()))]
    for i, lif in enumerate(lifs):
        handles.append(lif.register_forward_hook(
            lambda _m, _args, out, i=i: rec.layers[i].append(out.detach())))
    try:
        yield rec
    finally:
        for h in handles:
            h.remove()


@torch.no_grad()
def record_spikes(model: nn.Module, x_seq: torch.Tensor) -> list[torch.Tensor]:
    """Spike trains of one forward pass: [input, layer 1, ..., layer L], each [T, B, N].

    With membrane readout the output layer does not spike and is left out.
    """
    with recording(model) as rec:
        model(x_seq)
    return [rec.inputs[0], *[layer[0] for layer in rec.layers]]
