"""How the explainers see a model: one *sample* at a time, batch first.

A sample is what the model consumes for one input, without the batch axis: the input train
[T, D] for an SNN, the image [D] for an ANN. `SampleForward` maps a batch of samples
[B, *sample] to logits [B, C] (Captum's convention), so every attribution method works on
both kinds of model. The SNN keeps no state between calls: membrane potentials live inside
each forward, so two calls never influence each other (a test checks this).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from spikeloom.errors import ConfigError
from spikeloom.snn.models import LIF, MLP, LeakyReadout, SpikingMLP, readout
from spikeloom.snn.neuron import leaky_integrate, lif_sequence


class SampleForward(nn.Module):
    """Batch-first wrapper: samples [B, T, D] (SNN) or [B, D] (ANN) -> logits [B, C]."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.spiking = isinstance(model, SpikingMLP)

    def forward(self, samples: torch.Tensor) -> torch.Tensor:
        if self.spiking:
            return self.model(samples.transpose(0, 1))
        return self.model(samples)


def check_model(model: nn.Module) -> None:
    if not isinstance(model, (SpikingMLP, MLP)):
        raise ConfigError(f"cannot explain a {type(model).__name__}; give a spikeloom SNN or ANN "
                          "(a model.pt written by 'spikeloom train')")


def model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def pixel_map(values: torch.Tensor, spiking: bool) -> torch.Tensor:
    """Per-pixel view [D] of a per-sample map ([T, D] summed over time for an SNN)."""
    return values.sum(0) if spiking and values.dim() == 2 else values


@dataclass(frozen=True)
class Trace:
    """One forward pass layer by layer. spikes[i], membrane[i]: [T, B, N_i] of weight layer i
    (ANN: activations [B, N_i] and pre-activations); logits [B, C]."""

    spikes: tuple[torch.Tensor, ...]
    membrane: tuple[torch.Tensor, ...]
    logits: torch.Tensor


@torch.no_grad()
def trace(model: nn.Module, x_seq: torch.Tensor) -> Trace:
    """Replay the model's forward keeping each layer's output and membrane potential.

    x_seq: model input ([T, B, D] SNN, [B, D] ANN). The logits equal `model(x_seq)`.
    With membrane readout the last entry of `spikes` is the readout membrane.
    """
    spikes, mems = [], []
    h = x_seq
    if isinstance(model, SpikingMLP):
        for fc, neuron in zip(model.fcs, model.lifs):
            current = fc(h)
            if isinstance(neuron, LIF):
                h, mem = lif_sequence(current, neuron.parameters_now(), return_mem=True)
            else:
                assert isinstance(neuron, LeakyReadout)
                h = mem = leaky_integrate(current, neuron.beta)
            spikes.append(h)
            mems.append(mem)
        logits = readout(model.config, h)
    else:
        for i, fc in enumerate(model.fcs):
            pre = fc(h)
            h = torch.relu(pre) if i < len(model.fcs) - 1 else pre
            spikes.append(h)
            mems.append(pre)
        logits = h
    return Trace(tuple(spikes), tuple(mems), logits)


def forward_current(model: nn.Module, layer: int, current: torch.Tensor) -> torch.Tensor:
    """Logits [B, C] from the input current of weight layer `layer` (0-based) onwards.

    current: [T, B, N] (SNN) or [B, N] (ANN), i.e. `model.fcs[layer](h)` of the layer below.
    """
    if isinstance(model, SpikingMLP):
        h = model.lifs[layer](current)
        for fc, neuron in list(zip(model.fcs, model.lifs))[layer + 1:]:
            h = neuron(fc(h))
        return readout(model.config, h)
    count = len(model.fcs)
    h = current
    for i in range(layer, count):
        if i > layer:
            h = model.fcs[i](h)
        if i < count - 1:
            h = torch.relu(h)
    return h
