"""Fast engines: the same per-trial accuracies as the reference engine, much sooner.

`CompiledEngine` (faults/compiled.py; CPU, numba installed, spike-count readout) and
`DeltaEngine` (faults/delta.py; also membrane readout and CUDA) for SNNs fed spikes: one clean
pass, then each trial as its exact difference from it, simulating only the (neuron, sample)
pairs whose spikes can change.
`PrefixEngine` for everything else (ANN, analogue inputs, bit widths whose integer sums could
pass 2^24): the clean activations entering every layer are cached per evaluation chunk, and a
trial recomputes only from its first faulty layer, with the reference's own modules and
chunk shapes.
"""

from __future__ import annotations

import torch
from torch import nn

from spikeloom.faults.delta import (
    SPIKE_ENCODINGS,
    DeltaEngine,
    delta_supported,
    exact_accumulations,
)
from spikeloom.faults.injection import LayerFaults
from spikeloom.faults.reference import faulty_model
from spikeloom.quant import QuantizedWeights
from spikeloom.snn.models import LIF
from spikeloom.spec import ModelConfig
from spikeloom.train import eval_batches


def _accuracy(pred: torch.Tensor, y: torch.Tensor) -> float:
    return float((pred.cpu() == y.cpu()).float().mean())


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _layer_forward(model: nn.Module, cfg: ModelConfig, i: int, h: torch.Tensor) -> torch.Tensor:
    """Layer i (0-based) of `model` exactly as its forward computes it."""
    h = model.fcs[i](h)
    if cfg.arch == "snn":
        return model.lifs[i](h)
    return torch.relu(h) if i < len(model.fcs) - 1 else h


def _logits(cfg: ModelConfig, h: torch.Tensor) -> torch.Tensor:
    if cfg.arch == "ann":
        return h
    return h.mean(0) if cfg.readout == "membrane" else h.sum(0)


class PrefixEngine:
    """Reuses the clean activations entering the first faulty layer; recomputes the rest with
    the faulty model's modules on the reference's chunks."""

    name = "fast"

    @torch.no_grad()
    def __init__(self, model: nn.Module, cfg: ModelConfig, qw: QuantizedWeights,
                 x: torch.Tensor, y: torch.Tensor, eval_seed: int = 0) -> None:
        self.model, self.cfg, self.qw, self.y = model.eval(), cfg, qw, y
        device = _device(model)
        self.inputs: list[list[torch.Tensor]] = [[] for _ in model.fcs]  # [layer][chunk]
        preds = []
        for _, h in eval_batches(cfg, x, eval_seed, device):
            for i in range(len(model.fcs)):
                self.inputs[i].append(h)
                h = _layer_forward(model, cfg, i, h)
            preds.append(_logits(cfg, h).argmax(1).cpu())
        self.clean_pred = torch.cat(preds)

    def clean_accuracy(self) -> float:
        return _accuracy(self.clean_pred, self.y)

    @torch.no_grad()
    def accuracy(self, faults: list[LayerFaults]) -> float:
        if not faults:
            return self.clean_accuracy()
        model = faulty_model(self.model, self.cfg, self.qw, faults)
        first = min(f.layer for f in faults) - 1
        preds = []
        for h in self.inputs[first]:
            for i in range(first, len(model.fcs)):
                h = _layer_forward(model, self.cfg, i, h)
            preds.append(_logits(self.cfg, h).argmax(1).cpu())
        return _accuracy(torch.cat(preds), self.y)


def make_fast_engine(model: nn.Module, cfg: ModelConfig, qw: QuantizedWeights, x: torch.Tensor,
                     y: torch.Tensor, eval_seed: int = 0):
    """The fastest exact engine for this model: `CompiledEngine` (CPU, numba installed),
    `DeltaEngine` or `PrefixEngine`."""
    on_cpu = _device(model).type == "cpu"
    if on_cpu and cfg.encoding in SPIKE_ENCODINGS and exact_accumulations(cfg, qw):
        try:
            from spikeloom.faults.compiled import CompiledEngine, compiled_supported  # noqa: PLC0415
        except ImportError:  # numba is an optional extra
            pass
        else:
            if compiled_supported(cfg, model):
                return CompiledEngine(model, cfg, qw, x, y, eval_seed)
    if cfg.arch == "snn" and all(isinstance(m, LIF) for m in list(model.lifs)[:-1]):
        device = _device(model)
        x_seq = torch.cat([b for _, b in eval_batches(cfg, x, eval_seed, device)], dim=1)
        if delta_supported(cfg, qw, x_seq):
            return DeltaEngine(model, cfg, qw, x, y, eval_seed, x_seq=x_seq)
    return PrefixEngine(model, cfg, qw, x, y, eval_seed)
