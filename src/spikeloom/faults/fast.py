"""Fast engines: the same per-trial accuracies as the reference engine, much sooner.

`CompiledEngine` (faults/compiled.py; CPU, numba installed, spike-count readout) and
`DeltaEngine` (faults/delta.py; also membrane readout and CUDA) for SNNs fed spikes: one clean
pass, then each trial as its exact difference from it, simulating only the (neuron, sample)
pairs whose spikes can change.
`PrefixEngine` for everything else (ANN, analogue inputs, bit widths whose integer sums could
pass 2^24): the clean activations entering every layer are cached per evaluation chunk, and a
trial recomputes only from its first faulty layer, with the reference's own modules and
chunk shapes.
`BatchedEngine` (faults/batched.py; asked for by name, never picked by 'auto'): K trials'
weight copies in one forward pass, for SNNs fed spikes, on CPU or CUDA.
"""

from __future__ import annotations

import sys

import torch
from torch import nn

from spikeloom.data.protocol import eval_batches
from spikeloom.errors import ConfigError
from spikeloom.faults.batched import BatchedEngine, batched_supported
from spikeloom.faults.delta import (
    SPIKE_ENCODINGS,
    DeltaEngine,
    delta_supported,
    exact_accumulations,
)
from spikeloom.faults.injection import LayerFaults
from spikeloom.faults.reference import faulty_model
from spikeloom.quant import QuantizedWeights
from spikeloom.snn.models import LIF, readout
from spikeloom.spec import ModelConfig


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
    return h if cfg.arch == "ann" else readout(cfg, h)


class PrefixEngine:
    """Reuses the clean activations entering the first faulty layer; recomputes the rest with
    the faulty model's modules on the reference's chunks."""

    name = "prefix"

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


ENGINES = ("auto", "reference", "prefix", "delta", "compiled", "batched")
ENGINE_ALIASES = {"fast": "auto"}  # the name of 0.1, kept for one release
_warned_numba = False


def engine_name(name: str) -> str:
    """The canonical engine name (aliases resolved); `ConfigError` for an unknown one."""
    name = ENGINE_ALIASES.get(name, name)
    if name not in ENGINES:
        raise ConfigError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
    return name


def _compiled_class():
    try:
        from spikeloom.faults.compiled import CompiledEngine, compiled_supported  # noqa: PLC0415
    except ImportError:  # numba is an optional extra
        return None, None
    return CompiledEngine, compiled_supported


def supported_engines(model: nn.Module, cfg: ModelConfig, qw: QuantizedWeights,
                      x_seq: torch.Tensor | None = None) -> dict[str, str]:
    """{engine: why it cannot run here} for the engines that cannot serve this model
    (an empty reason never appears: engines that can are left out)."""
    reasons: dict[str, str] = {}
    spikes = cfg.arch == "snn" and cfg.encoding in SPIKE_ENCODINGS
    lifs = cfg.arch == "snn" and all(isinstance(m, LIF) for m in list(model.lifs)[:-1])
    cls, supported = _compiled_class()
    if cls is None:
        reasons["compiled"] = "numba is not installed (pip install 'spikeloom[fast]')"
    elif _device(model).type != "cpu":
        reasons["compiled"] = "it runs on the CPU only"
    elif not (spikes and exact_accumulations(cfg, qw) and supported(cfg, model)):
        reasons["compiled"] = ("it needs an SNN fed spikes with a spike-count readout, LIF "
                               "layers, at most 64 timesteps and exact integer sums")
    if not batched_supported(cfg, model, qw):
        reasons["batched"] = ("it needs an SNN fed spikes (rate or latency encoding) with LIF "
                              "hidden layers and exact integer sums")
    if not lifs:
        reasons["delta"] = "it needs an SNN with LIF hidden layers"
    elif not (delta_supported(cfg, qw, x_seq) if x_seq is not None else spikes and exact_accumulations(cfg, qw)):
        reasons["delta"] = "it needs spike (0/1) inputs and exact integer sums"
    return reasons


def pick_engine(name: str, model: nn.Module, cfg: ModelConfig, qw: QuantizedWeights,
                x_seq: torch.Tensor | None = None) -> str:
    """The engine `name` resolves to for this model: 'auto' picks the fastest exact one
    (compiled, delta, prefix). `ConfigError` when a named engine cannot serve this model."""
    global _warned_numba
    name = engine_name(name)
    if name in ("reference", "prefix"):
        return name
    missing = supported_engines(model, cfg, qw, x_seq)
    if name != "auto":
        if name in missing:
            raise ConfigError(f"engine {name!r} cannot run this model: {missing[name]}; "
                              "use --engine auto")
        return name
    picked = next((e for e in ("compiled", "delta") if e not in missing), "prefix")
    if picked != "compiled" and "numba" in missing.get("compiled", "") and not _warned_numba:
        _warned_numba = True
        print(f"warning: numba is not installed, so fault campaigns use the slower {picked} "
              "engine; pip install 'spikeloom[fast]'", file=sys.stderr)
    return picked


def make_engine(name: str, model: nn.Module, cfg: ModelConfig, qw: QuantizedWeights,
                x: torch.Tensor, y: torch.Tensor, eval_seed: int = 0):
    """The engine `name` (see `pick_engine`) for this model and evaluation set. Every engine
    gives the reference engine's per-trial accuracies."""
    from spikeloom.faults.reference import ReferenceEngine  # noqa: PLC0415

    x_seq = None
    if cfg.arch == "snn" and cfg.encoding not in SPIKE_ENCODINGS and engine_name(name) in ("auto", "delta"):
        x_seq = torch.cat([b for _, b in eval_batches(cfg, x, eval_seed, _device(model))], dim=1)
    picked = pick_engine(name, model, cfg, qw, x_seq)
    if picked == "reference":
        return ReferenceEngine(model, cfg, qw, x, y, eval_seed)
    if picked == "compiled":
        return _compiled_class()[0](model, cfg, qw, x, y, eval_seed)
    if picked == "delta":
        return DeltaEngine(model, cfg, qw, x, y, eval_seed, x_seq=x_seq)
    if picked == "batched":
        return BatchedEngine(model, cfg, qw, x, y, eval_seed)
    return PrefixEngine(model, cfg, qw, x, y, eval_seed)
