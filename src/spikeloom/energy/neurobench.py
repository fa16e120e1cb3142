"""NeuroBench's complexity metrics as pure functions of weights and recorded activity.

Counted as `neurobench` 2.3 counts them (Yik et al., "NeuroBench", Nature Communications 2025):

- footprint: bytes of all parameters and buffers (numel x element size);
- connection sparsity: share of exactly-zero weights over the weight matrices (no biases);
- activation sparsity: share of zero outputs over every spiking layer's neurons x time steps x
  samples (the input and a non-spiking readout are not activations), overall and per layer;
- synaptic operations per sample, per weight layer and time step:
  Effective = sum over inputs i of [input i non-zero] x (non-zero weights in column i)
  (zero inputs and zero weights skipped, biases not counted); counted as accumulates
  (Effective_ACs) when the layer's input is binary (every value in {-1, 0, 1}, i.e. spikes),
  else as multiply-accumulates (Effective_MACs); Dense = fan_in x fan_out per step, all counted.

Where this differs from spikeloom's energy model (`energy.estimate`): ours charges every
input spike fan_out accumulates whether the weight is zero or not (a crossbar column is
driven anyway), and prices spikes of a real-valued ('direct') input as accumulates as well;
NeuroBench skips zero weights and counts a non-binary input as MACs. The two agree on a
rate- or latency-coded model without zero weights.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch


def footprint_bytes(tensors: Iterable[torch.Tensor]) -> int:
    """Bytes of the given tensors (pass `[*model.parameters(), *model.buffers()]`)."""
    return int(sum(t.numel() * t.element_size() for t in tensors))


def connection_sparsity(weights: Sequence[np.ndarray | torch.Tensor]) -> float:
    """Zero weights / all weights over the layers' weight matrices, in [0, 1]."""
    mats = [np.asarray(torch.as_tensor(w).detach().cpu()) for w in weights]
    total = sum(m.size for m in mats)
    return float(sum(int((m == 0).sum()) for m in mats) / total) if total else 0.0


def activation_sparsity(spikes: Sequence[float], slots: Sequence[float]) -> dict[str, Any]:
    """spikes[l]: non-zero outputs of spiking layer l summed over neurons, steps and samples;
    slots[l]: neurons x steps x samples of that layer. Returns {'overall', 'per_layer'}."""
    if len(spikes) != len(slots):
        raise ValueError("one spike count per layer's slot count")
    per_layer = [1.0 - float(s) / float(n) if n else 0.0 for s, n in zip(spikes, slots)]
    total = float(sum(slots))
    overall = 1.0 - float(sum(spikes)) / total if total else 0.0
    return {"overall": overall, "per_layer": per_layer}


def synaptic_operations(weights: Sequence[np.ndarray | torch.Tensor],
                        input_nonzero: Sequence[np.ndarray | torch.Tensor],
                        input_binary: Sequence[bool], samples: int,
                        timesteps: int) -> dict[str, Any]:
    """NeuroBench's SynapticOperations per sample.

    weights[l]: [out, in]; input_nonzero[l]: [in] how often input i of layer l was non-zero,
    summed over time steps and samples; input_binary[l]: whether that input was spikes;
    samples: number of samples; timesteps: steps per sample (Dense counts every step).
    """
    if not (len(weights) == len(input_nonzero) == len(input_binary)):
        raise ValueError("one input count and one binary flag per weight layer")
    if samples < 1:
        raise ValueError("synaptic operations need at least one sample")
    macs = acs = dense = 0.0
    per_layer = []
    for li, (w, nz, binary) in enumerate(zip(weights, input_nonzero, input_binary)):
        w = np.asarray(torch.as_tensor(w).detach().cpu(), dtype=np.float64)
        nz = np.asarray(torch.as_tensor(nz).detach().cpu(), dtype=np.float64).ravel()
        if nz.shape[0] != w.shape[1]:
            raise ValueError(f"layer {li + 1}: {nz.shape[0]} input counts for {w.shape[1]} inputs")
        effective = float(nz @ (w != 0).sum(axis=0)) / samples
        layer_dense = float(timesteps * w.shape[0] * w.shape[1])
        if binary:
            acs += effective
        else:
            macs += effective
        dense += layer_dense
        per_layer.append({"layer": li + 1, "op": "AC" if binary else "MAC",
                          "effective": effective, "dense": layer_dense})
    return {"Effective_MACs": macs, "Effective_ACs": acs, "Dense": dense, "per_layer": per_layer}


def is_binary(x: torch.Tensor) -> bool:
    """NeuroBench's test for spikes: every value is -1, 0 or 1."""
    return bool(((x == 0) | (x == 1) | (x == -1)).all())


def neurobench_metrics(model: torch.nn.Module, weights: Sequence[torch.Tensor],
                       counts: Sequence[torch.Tensor], input_nonzero: torch.Tensor,
                       input_binary: bool, samples: int, timesteps: int) -> dict[str, Any]:
    """All four metrics of an MLP SNN from recorded counts.

    counts: per-neuron totals over samples and steps [input, layer 1, ..., layer L] (the
    readout entry is absent with a membrane readout), as `spike_counts` returns them;
    input_nonzero: [D] non-zero input values per input neuron (equal to counts[0] for
    spike-coded inputs); input_binary: whether the model's input is spikes.
    """
    hidden = list(counts[1:])
    nonzero = [input_nonzero, *hidden][: len(weights)]
    binary = [input_binary, *[True] * (len(weights) - 1)]
    act = activation_sparsity([float(c.sum()) for c in hidden],
                              [float(c.numel() * samples * timesteps) for c in hidden])
    return {"footprint_bytes": footprint_bytes([*model.parameters(), *model.buffers()]),
            "connection_sparsity": connection_sparsity(weights),
            "activation_sparsity": act["overall"],
            "activation_sparsity_per_layer": act["per_layer"],
            "synaptic_operations": synaptic_operations(weights, nonzero, binary, samples,
                                                       timesteps)}
