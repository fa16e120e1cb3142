"""Batched fault trials: K trials' faulty weight copies stacked along a batch axis and
evaluated in one forward pass (as PyTorchFI batches faults), on CPU or CUDA.

Activations are [T, K, b, H]: time, trial, sample, neuron. While no trial of a group has a
fault in a layer or before it, the group shares one activation ([T, 1, b, H]): the clean
prefix is computed once per group. A layer whose weights some trial changed runs one GEMM
against all K weight copies; per-trial thresholds broadcast as [K, 1, H]; dead / saturated
neurons are forced after the layer's neurons, as the reference's hooks do.

Exactness. The engine accepts SNNs fed spikes (rate or latency encoding) whose integer sums
stay below 2^24: every accumulation of 0/1 inputs with integer weights is then exact in
float32 in any summation order, and everything after it (scale, bias, the LIF recurrence,
the readout) is the reference's own elementwise arithmetic, so every trial's accuracy equals
the reference engine's bit for bit.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from spikeloom.data.protocol import eval_batches
from spikeloom.errors import ConfigError
from spikeloom.faults.delta import SPIKE_ENCODINGS, exact_accumulations
from spikeloom.faults.injection import LayerFaults
from spikeloom.quant import QuantizedWeights
from spikeloom.snn.models import LIF, readout
from spikeloom.snn.neuron import lif_sequence
from spikeloom.spec import ModelConfig

DEFAULT_BATCH = 16  # trials per forward pass
ELEMENT_BUDGET = 2 ** 24  # floats of one [T, K, b, H] activation: samples per pass follow


def batched_supported(cfg: ModelConfig, model: nn.Module, qw: QuantizedWeights) -> bool:
    """SNN fed spikes, LIF hidden layers, exact integer accumulations."""
    return (cfg.arch == "snn" and cfg.encoding in SPIKE_ENCODINGS
            and all(isinstance(m, LIF) for m in list(model.lifs)[:-1])
            and exact_accumulations(cfg, qw))


class _Group:
    """The faults of K trials, layer by layer, as stacked tensors on `device` (None: no trial
    of the group changes that part of that layer)."""

    def __init__(self, model: nn.Module, trials: list[list[LayerFaults]], device: torch.device):
        k, n_layers = len(trials), len(model.fcs)
        self.k = k
        self.weights: list[torch.Tensor | None] = [None] * n_layers  # [K, H, D]
        self.thresholds: list[torch.Tensor | None] = [None] * n_layers  # [K, 1, H]
        self.forced: list[tuple[torch.Tensor | None, torch.Tensor | None]] = [(None, None)] * n_layers
        for i, fc in enumerate(model.fcs):
            hits = [(j, f) for j, faults in enumerate(trials) for f in faults if f.layer == i + 1]
            if any(f.q is not None for _, f in hits):
                w = fc.q.expand(k, *fc.q.shape).clone()
                for j, f in hits:
                    if f.q is not None:
                        w[j] = f.q.to(device)
                self.weights[i] = w
            if any(f.threshold_scale is not None for _, f in hits):
                scale = torch.ones(k, fc.q.shape[0], device=device)
                for j, f in hits:
                    if f.threshold_scale is not None:
                        scale[j] = f.threshold_scale.to(device)
                # the reference's perturbed threshold, then the LIF's own clamp
                theta = model.lifs[i].threshold.detach() * scale
                self.thresholds[i] = theta.clamp(min=1e-6).unsqueeze(1)
            masks = []
            for kind in ("dead", "saturated"):
                if any(getattr(f, kind) is not None for _, f in hits):
                    m = torch.zeros(k, fc.q.shape[0], dtype=torch.bool, device=device)
                    for j, f in hits:
                        if getattr(f, kind) is not None:
                            m[j] = getattr(f, kind).to(device)
                    masks.append(m[None, :, None, :])  # [1, K, 1, H]
                else:
                    masks.append(None)
            self.forced[i] = (masks[0], masks[1])

    def first_layer(self) -> int:
        """0-based index of the first layer any trial of the group touches."""
        touched = [i for i in range(len(self.weights)) if self.weights[i] is not None
                   or self.thresholds[i] is not None or self.forced[i] != (None, None)]
        return min(touched) if touched else len(self.weights)


class BatchedEngine:
    """Per-trial accuracies identical to the reference engine, `batch` trials per forward."""

    name = "batched"

    @torch.no_grad()
    def __init__(self, model: nn.Module, cfg: ModelConfig, qw: QuantizedWeights,
                 x: torch.Tensor, y: torch.Tensor, eval_seed: int = 0,
                 batch: int | None = None) -> None:
        if not batched_supported(cfg, model, qw):
            raise ConfigError("the batched engine needs an SNN fed spikes (rate or latency "
                              "encoding) with LIF hidden layers and integer sums below 2^24; "
                              "use --engine auto")
        batch = DEFAULT_BATCH if batch is None else batch
        if batch < 1:
            raise ConfigError(f"batch must be a positive number of trials, got {batch}")
        self.model, self.cfg, self.x, self.y = model.eval(), cfg, x, y
        self.eval_seed, self.batch = eval_seed, int(batch)
        self.device = next(model.parameters()).device
        self._clean = self.accuracies([[]])[0]

    def clean_accuracy(self) -> float:
        return self._clean

    def accuracy(self, faults: list[LayerFaults]) -> float:
        return self.accuracies([faults])[0]

    @torch.no_grad()
    def accuracies(self, trials: list[list[LayerFaults]]) -> list[float]:
        """Accuracy of each trial (a list of its layers' faults), `batch` trials at a time."""
        out: list[float] = []
        for start in range(0, len(trials), self.batch):
            group = _Group(self.model, trials[start:start + self.batch], self.device)
            preds = [self._predict(group, inputs) for _, inputs in
                     eval_batches(self.cfg, self.x, self.eval_seed, self.device)]
            pred = torch.cat(preds, dim=1)  # [K, N]
            y = self.y.cpu()
            out += [float((pred[j] == y).float().mean()) for j in range(group.k)]
        return out

    def _predict(self, group: _Group, inputs: torch.Tensor) -> torch.Tensor:
        """Predicted classes [K, B] (CPU) of an encoded chunk `inputs` [T, B, D]."""
        steps, n, _ = inputs.shape
        widest = max(fc.q.shape[0] for fc in self.model.fcs)
        per_pass = max(1, ELEMENT_BUDGET // (steps * group.k * widest))
        preds = []
        for s in range(0, n, per_pass):
            h = inputs[:, s:s + per_pass].unsqueeze(1)  # [T, 1, b, D]
            for i in range(len(self.model.fcs)):
                h = self._layer(group, i, h)
            logits = readout(self.cfg, h)  # [K|1, b, C]
            preds.append(logits.argmax(-1).expand(group.k, -1).cpu())
        return torch.cat(preds, dim=1)

    def _layer(self, group: _Group, i: int, h: torch.Tensor) -> torch.Tensor:
        """Layer i (0-based) on h [T, K|1, b, D] -> [T, K|1, b, H]."""
        fc, neuron = self.model.fcs[i], self.model.lifs[i]
        w = group.weights[i]
        if w is None:  # one weight for every trial: the reference's own linear map
            acc = F.linear(h, fc.q)
        elif h.shape[1] == 1:  # shared input, K weight copies: one GEMM against all of them
            steps, _, b, d = h.shape
            acc = F.linear(h[:, 0], w.reshape(-1, d)).view(steps, b, group.k, -1).transpose(1, 2)
        else:  # K inputs, K weight copies: one batched GEMM
            steps, k, b, d = h.shape
            flat = h.transpose(0, 1).reshape(k, steps * b, d)
            acc = torch.bmm(flat, w.transpose(1, 2)).view(k, steps, b, -1).transpose(0, 1)
        current = acc * fc.scale
        if fc.bias is not None:
            current = current + fc.bias
        current = current.contiguous()
        theta = group.thresholds[i]
        if theta is not None:
            current = current.expand(current.shape[0], group.k, *current.shape[2:]).contiguous()
            out = lif_sequence(current, neuron.parameters_now()._replace(threshold=theta))
        else:
            out = neuron(current)
        dead, saturated = group.forced[i]
        if dead is not None or saturated is not None:
            out = out.expand(out.shape[0], group.k, *out.shape[2:])
            if dead is not None:
                out = out.masked_fill(dead, 0.0)
            if saturated is not None:
                out = out.masked_fill(saturated, 1.0)
        return out
