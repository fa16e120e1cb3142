"""Operation counts and energy per inference.

ANN: every synapse costs one multiply-accumulate per sample, MACs = sum_l in_l x out_l.
SNN: a synapse costs one accumulate only when its presynaptic neuron spikes, so
ACs of layer l = (spikes of layer l-1 per sample, input spikes included) x out_l
(every neuron of an MLP layer fans out to all out_l neurons of the next).
A pruned network counts only its stored (non-zero) synapses (`fan_out`).
Energy (pJ) = ops x table[op] with op MAC (ANN) or ACC (SNN).
This package receives counts as numbers; `spikeloom.measure.energy` records them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from spikeloom.energy.tables import check_precision, default_table, normalize_table
from spikeloom.errors import ConfigError


@dataclass(frozen=True)
class EnergyReport:
    """Per-sample figures of one model.

    ops_per_sample: MACs (ANN) or synaptic accumulates (SNN, = SynOps); per_layer: one dict per
    weight layer; spikes_per_layer: mean spikes per sample [input, layer 1..L] (SNN; [] for ANN).
    """

    arch: str
    op: str
    precision: str
    ops_per_sample: float
    energy_pj_per_sample: float
    per_layer: tuple[dict[str, Any], ...]
    table: dict[str, float]
    spikes_per_layer: tuple[float, ...] = field(default=())
    synapses: str = "dense"

    def to_dict(self) -> dict[str, Any]:
        return {"energy_pj_per_sample": self.energy_pj_per_sample,
                "ops_per_sample": self.ops_per_sample, "per_layer": [dict(r) for r in self.per_layer],
                "table": dict(self.table), "arch": self.arch, "op": self.op,
                "precision": self.precision, "spikes_per_layer": list(self.spikes_per_layer),
                "synapses": self.synapses}


def resolve_table(table: dict[str, Any] | None, precision: str) -> dict[str, float]:
    return default_table(precision) if table is None else normalize_table(table, precision)


def energy_from_counts(topology: tuple[int, ...] | list[int], arch: str,
                       spikes_per_layer: Sequence[float | Sequence[float]] | None = None,
                       precision: str = "int", table: dict[str, Any] | None = None,
                       fan_out: Sequence[Sequence[float]] | None = None) -> EnergyReport:
    """Energy from layer sizes and (SNN) mean spikes per sample [input, layer 1, ..., layer L]
    (the output layer's entry may be missing: it drives no synapse).

    Synapses counted ('synapses' in the report):
    dense    (fan_out None) every neuron of layer l drives all out_l neurons of layer l+1;
    nonzero  fan_out[l][j] = stored (non-zero) synapses leaving neuron j of layer l (a pruned
             network); then the SNN's spikes_per_layer[l] must be per-neuron means [in_l].
    """
    check_precision(precision)
    costs = resolve_table(table, precision)
    sizes = [int(s) for s in topology]
    layers = list(zip(sizes[:-1], sizes[1:]))
    if fan_out is not None and len(fan_out) != len(layers):
        raise ConfigError(f"fan_out has {len(fan_out)} layers, the topology {len(layers)}")
    synapses = [float(a * b) if fan_out is None else float(sum(fan_out[i]))
                for i, (a, b) in enumerate(layers)]
    if arch == "ann":
        op = "MAC"
        ops = list(synapses)
        spikes: list[float] = []
    elif arch == "snn":
        op = "ACC"
        if spikes_per_layer is None or len(spikes_per_layer) < len(layers):
            raise ConfigError(f"an SNN needs spike counts for its input and {len(layers) - 1} "
                              "hidden layer(s) to count accumulates")
        if fan_out is None:
            spikes = [float(s) for s in spikes_per_layer]  # type: ignore[arg-type]
            ops = [spikes[i] * b for i, (_a, b) in enumerate(layers)]
        else:
            per_neuron = [[float(v) for v in s] for s in spikes_per_layer]  # type: ignore[union-attr]
            spikes = [sum(s) for s in per_neuron]
            ops = [sum(c * f for c, f in zip(per_neuron[i], fan_out[i])) for i in range(len(layers))]
    else:
        raise ConfigError(f"unknown arch {arch!r}; choose snn or ann")
    per_layer = []
    for i, ((a, b), n) in enumerate(zip(layers, ops)):
        row: dict[str, Any] = {"layer": i + 1, "fan_in": a, "fan_out": b, "synapses": synapses[i],
                               "ops": n, "energy_pj": n * costs[op]}
        if arch == "snn":
            row["input_spikes"] = spikes[i]
            row["synops"] = n
            if i + 1 < len(spikes):
                row["output_spikes"] = spikes[i + 1]
        per_layer.append(row)
    total_ops = float(sum(ops))
    return EnergyReport(arch, op, precision, total_ops, total_ops * costs[op], tuple(per_layer),
                        costs, tuple(spikes), "dense" if fan_out is None else "nonzero")


def energy_ratio(ann_report: EnergyReport, snn_report: EnergyReport) -> float:
    """How many times more energy the ANN spends per sample than the SNN (inf if SNN is 0)."""
    if snn_report.energy_pj_per_sample == 0:
        return float("inf")
    return ann_report.energy_pj_per_sample / snn_report.energy_pj_per_sample
