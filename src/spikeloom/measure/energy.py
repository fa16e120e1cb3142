"""Energy per sample of a model: counts recorded under the evaluation protocol, priced by
`spikeloom.energy` (one model: dense fan-out, or only the stored synapses of a pruned net)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from spikeloom.energy import EnergyReport, energy_from_counts
from spikeloom.errors import ConfigError
from spikeloom.snn.inference import spike_counts
from spikeloom.spec import ModelConfig

SYNAPSES = ("dense", "nonzero")


def stored_fan_out(model: nn.Module) -> list[list[float]]:
    """Per layer, the non-zero weights leaving each presynaptic neuron: [in_l] counts."""
    return [(fc.weight.detach() != 0).sum(0).double().cpu().tolist() for fc in model.fcs]


def measure_energy(model: nn.Module, cfg: ModelConfig, x: torch.Tensor, seed: int = 0,
                   precision: str = "int", table: dict[str, Any] | None = None,
                   synapses: str = "dense") -> EnergyReport:
    """Energy per sample of `model` on x [N, D] (SNN spikes recorded with the evaluation
    encoding, seed `seed`). synapses: 'dense' (every synapse of the topology, the paper's
    count) or 'nonzero' (stored non-zero weights only, for pruned networks)."""
    if synapses not in SYNAPSES:
        raise ConfigError(f"unknown synapse count {synapses!r}; choose dense or nonzero")
    fan_out = stored_fan_out(model) if synapses == "nonzero" else None
    if cfg.arch == "ann":
        return energy_from_counts(cfg.topology, "ann", precision=precision, table=table, fan_out=fan_out)
    if len(x) == 0:
        raise ConfigError("need at least one sample to count spikes")
    totals = spike_counts(model, cfg, x, seed)
    if fan_out is None:
        per_sample: list = [float(t.sum()) / len(x) for t in totals]
    else:
        per_sample = [(t / len(x)).tolist() for t in totals]
    return energy_from_counts(cfg.topology, "snn", per_sample, precision, table, fan_out)


def neurobench_figures(model: nn.Module, cfg: ModelConfig, x: torch.Tensor, seed: int = 0) -> dict[str, Any]:
    """NeuroBench's footprint, sparsities and synaptic operations (`energy.neurobench`) of an
    SNN on x [N, D], spikes recorded with the evaluation encoding (seed `seed`)."""
    from spikeloom.energy.neurobench import is_binary, neurobench_metrics  # noqa: PLC0415

    counts = spike_counts(model, cfg, x, seed)
    direct = cfg.encoding == "direct"
    nonzero = (x != 0).sum(0).double() * cfg.timesteps if direct else counts[0]
    return neurobench_metrics(model, [fc.weight for fc in model.fcs], counts, nonzero,
                              not direct or is_binary(x), len(x), cfg.timesteps)
