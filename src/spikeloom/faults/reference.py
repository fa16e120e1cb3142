"""Reference engine: one faulty copy of the quantized model per trial, fully evaluated with
`spikeloom.snn.inference.predict` (the same deterministic input encoding as every other evaluation)."""

from __future__ import annotations

import torch
from torch import nn

from spikeloom.faults.injection import LayerFaults
from spikeloom.quant import QuantizedWeights, apply_quantized
from spikeloom.snn.inference import predict
from spikeloom.snn.models import LIF
from spikeloom.spec import ModelConfig


def _forcing_hook(dead: torch.Tensor | None, saturated: torch.Tensor | None):
    def hook(_module: nn.Module, _args: tuple, out: torch.Tensor) -> torch.Tensor:
        out = out.clone()
        if dead is not None:
            out[..., dead.to(out.device)] = 0.0
        if saturated is not None:
            out[..., saturated.to(out.device)] = 1.0
        return out
    return hook


def faulty_model(model: nn.Module, cfg: ModelConfig, qw: QuantizedWeights,
                 faults: list[LayerFaults]) -> nn.Module:
    """A copy of `model` computing with `qw` and carrying one trial's `faults`.

    Weight faults replace that layer's integers; a perturbed threshold becomes a per-neuron
    threshold of that LIF layer; dead / saturated neurons have their output forced to 0 / 1
    (ANN: a dead neuron's pre-activation is forced to 0).
    """
    q = list(qw.q)
    for f in faults:
        if f.q is not None:
            q[f.layer - 1] = f.q
    out = apply_quantized(model, qw.with_q(q))
    for f in faults:
        if f.dead is None and f.saturated is None and f.threshold_scale is None:
            continue
        if cfg.arch == "ann":
            out.fcs[f.layer - 1].register_forward_hook(_forcing_hook(f.dead, None))
            continue
        lif = out.lifs[f.layer - 1]
        if not isinstance(lif, LIF):
            continue
        if f.threshold_scale is not None:
            theta = lif.threshold.detach() * f.threshold_scale.to(lif.threshold.device)
            lif._parameters.pop("threshold", None)
            lif._buffers.pop("threshold", None)
            lif.register_buffer("threshold", theta)
        if f.dead is not None or f.saturated is not None:
            lif.register_forward_hook(_forcing_hook(f.dead, f.saturated))
    return out.eval()


class ReferenceEngine:
    """Plain sequential evaluation: one faulty model copy per trial."""

    name = "reference"

    def __init__(self, model: nn.Module, cfg: ModelConfig, qw: QuantizedWeights,
                 x: torch.Tensor, y: torch.Tensor, eval_seed: int = 0) -> None:
        self.model, self.cfg, self.qw = model, cfg, qw
        self.x, self.y, self.eval_seed = x, y, eval_seed

    def clean_accuracy(self) -> float:
        return self.accuracy([])

    def accuracy(self, faults: list[LayerFaults]) -> float:
        model = faulty_model(self.model, self.cfg, self.qw, faults)
        return float((predict(model, self.cfg, self.x, self.eval_seed) == self.y.cpu()).float().mean())
