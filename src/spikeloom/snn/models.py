"""ANN and SNN multilayer perceptrons built from one `ModelConfig`.

Both keep their weights in `fcs` (a ModuleList of `nn.Linear`, weight [out, in]), so the same
state-dict keys `fcs.{i}.weight` move between them (see `transfer_weights`).
"""

from __future__ import annotations

import torch
from torch import nn

from spikeloom.snn.neuron import LIFParameters, leaky_integrate, lif_reference, lif_sequence
from spikeloom.spec import ModelConfig


class LIF(nn.Module):
    """A layer of LIF neurons. forward: input current [T, B, N] -> spikes [T, B, N]."""

    def __init__(self, size: int, cfg: ModelConfig) -> None:
        super().__init__()
        self.size = size
        self.reset, self.surrogate, self.slope = cfg.reset, cfg.surrogate, cfg.slope
        beta = torch.tensor(float(cfg.beta))
        threshold = torch.tensor(float(cfg.threshold))
        if cfg.learn_beta:
            self.beta = nn.Parameter(beta)
        else:
            self.register_buffer("beta", beta)
        if cfg.learn_threshold:
            self.threshold = nn.Parameter(threshold)
        else:
            self.register_buffer("threshold", threshold)

    def parameters_now(self) -> LIFParameters:
        """Current neuron parameters (beta clamped to [0, 1], threshold to > 0)."""
        return LIFParameters(self.beta.clamp(0.0, 1.0), self.threshold.clamp(min=1e-6),
                             self.reset, self.surrogate, self.slope)

    def forward(self, current: torch.Tensor) -> torch.Tensor:
        return lif_sequence(current, self.parameters_now())

    def extra_repr(self) -> str:
        return (f"{self.size}, beta={float(self.beta):.3g}, threshold={float(self.threshold):.3g}, "
                f"reset={self.reset}, surrogate={self.surrogate}({self.slope:g})")


class LeakyReadout(nn.Module):
    """Non-spiking output layer for membrane readout. current [T,B,N] -> membrane [T,B,N]."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.register_buffer("beta", torch.tensor(float(cfg.beta)))

    def forward(self, current: torch.Tensor) -> torch.Tensor:
        return leaky_integrate(current, self.beta)


def _linears(cfg: ModelConfig) -> nn.ModuleList:
    sizes = cfg.topology
    return nn.ModuleList(nn.Linear(a, b, bias=cfg.bias) for a, b in zip(sizes[:-1], sizes[1:]))


def readout(cfg: ModelConfig, h: torch.Tensor) -> torch.Tensor:
    """Logits [B, C] from the output layer's trace h [T, B, C]: the mean membrane potential
    (readout 'membrane') or the spike count (readout 'count')."""
    return h.mean(0) if cfg.readout == "membrane" else h.sum(0)


class SpikingMLP(nn.Module):
    """SNN. forward: input train [T, B, D] -> logits [B, C].

    Readout 'count': logits are output spike counts (cross-entropy on counts).
    Readout 'membrane': the output layer does not spike; logits are its mean membrane potential.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.config = cfg
        self.fcs = _linears(cfg)
        sizes = cfg.topology[1:]
        neurons: list[nn.Module] = [LIF(n, cfg) for n in sizes[:-1]]
        neurons.append(LeakyReadout(cfg) if cfg.readout == "membrane" else LIF(sizes[-1], cfg))
        self.lifs = nn.ModuleList(neurons)

    def output_current(self, x: torch.Tensor) -> torch.Tensor:
        """[T, B, D] -> the output layer's input current [T, B, C]."""
        h = x
        for fc, neuron in zip(self.fcs[:-1], self.lifs[:-1]):
            h = neuron(fc(h))
        return self.fcs[-1](h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return readout(self.config, self.lifs[-1](self.output_current(x)))

    def membrane_logits(self, x: torch.Tensor) -> torch.Tensor:
        """[T, B, D] -> [B, C]: the output layer's mean membrane potential over T (the same
        network as `forward`, output spikes and resets included). A training signal that
        exists even while the output layer is silent; with membrane readout it is `forward`.
        The output layer (C neurons) runs the unfused reference, whose membrane is
        differentiable."""
        out, current = self.lifs[-1], self.output_current(x)
        if not isinstance(out, LIF):
            return out(current).mean(0)
        return lif_reference(current, out.parameters_now())[1].mean(0)


class MLP(nn.Module):
    """ANN of the same topology: Linear + ReLU, last layer linear. [B, D] -> logits [B, C]."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.config = cfg
        self.fcs = _linears(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for i, fc in enumerate(self.fcs):
            h = fc(h)
            if i < len(self.fcs) - 1:
                h = torch.relu(h)
        return h


def build_model(cfg: ModelConfig) -> nn.Module:
    """A fresh model for `cfg` (weights from PyTorch's default initialisation)."""
    return SpikingMLP(cfg) if cfg.arch == "snn" else MLP(cfg)


def synaptic_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The `fcs` weights (and biases) of a state dict: what models of one topology share,
    whatever their arch and neuron parameters."""
    return {k: v for k, v in state.items() if k.startswith("fcs.")}


def transfer_weights(source: nn.Module, target: nn.Module) -> None:
    """Copy `fcs` weights (and biases) from one model to another of the same topology."""
    target.load_state_dict(synaptic_state(source.state_dict()), strict=False)
