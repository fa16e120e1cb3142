"""Operation counts and energy per inference.

ANN: every synapse costs one multiply-accumulate per sample, MACs = sum_l in_l x out_l.
SNN: a synapse costs one accumulate only when its presynaptic neuron spikes, so
ACs of layer l = (spikes of layer l-1 per sample, input spikes included) x out_l
(every neuron of an MLP layer fans out to all out_l neurons of the next).
Energy (pJ) = ops x table[op] with op MAC (ANN) or ACC (SNN).
"""

from __future__ import annotations

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

    def to_dict(self) -> dict[str, Any]:
        return {"energy_pj_per_sample": self.energy_pj_per_sample,
                "ops_per_sample": self.ops_per_sample, "per_layer": [dict(r) for r in self.per_layer],
                "table": dict(self.table), "arch": self.arch, "op": self.op,
                "precision": self.precision, "spikes_per_layer": list(self.spikes_per_layer)}


def resolve_table(table: dict[str, Any] | None, precision: str) -> dict[str, float]:
    return default_table(precision) if table is None else normalize_table(table, precision)


def energy_from_counts(topology: tuple[int, ...] | list[int], arch: str,
                       spikes_per_layer: list[float] | tuple[float, ...] | None = None,
                       precision: str = "int", table: dict[str, Any] | None = None) -> EnergyReport:
    """Energy from layer sizes and (SNN) mean spikes per sample [input, layer 1, ..., layer L]
    (the output layer's entry may be missing: it drives no synapse)."""
    check_precision(precision)
    costs = resolve_table(table, precision)
    sizes = [int(s) for s in topology]
    layers = list(zip(sizes[:-1], sizes[1:]))
    if arch == "ann":
        op = "MAC"
        ops = [float(a * b) for a, b in layers]
        spikes: list[float] = []
    elif arch == "snn":
        op = "ACC"
        if spikes_per_layer is None or len(spikes_per_layer) < len(layers):
            raise ConfigError(f"an SNN needs spike counts for its input and {len(layers) - 1} "
                              "hidden layer(s) to count accumulates")
        spikes = [float(s) for s in spikes_per_layer]
        ops = [spikes[i] * b for i, (_a, b) in enumerate(layers)]
    else:
        raise ConfigError(f"unknown arch {arch!r}; choose snn or ann")
    per_layer = []
    for i, ((a, b), n) in enumerate(zip(layers, ops)):
        row: dict[str, Any] = {"layer": i + 1, "fan_in": a, "fan_out": b, "synapses": a * b,
                               "ops": n, "energy_pj": n * costs[op]}
        if arch == "snn":
            row["input_spikes"] = spikes[i]
            row["synops"] = n
            if i + 1 < len(spikes):
                row["output_spikes"] = spikes[i + 1]
        per_layer.append(row)
    total_ops = float(sum(ops))
    return EnergyReport(arch, op, precision, total_ops, total_ops * costs[op], tuple(per_layer),
                        costs, tuple(spikes))


def estimate_energy(model, model_config, x, seed: int = 0, precision: str = "int",
                    table: dict[str, Any] | None = None) -> EnergyReport:
    """Energy per sample of `model` on inputs x [N, D] (SNN spikes recorded with the same
    deterministic encoding as evaluation, seed `seed`)."""
    cfg = model_config
    if cfg.arch == "ann":
        return energy_from_counts(cfg.topology, "ann", precision=precision, table=table)
    if len(x) == 0:
        raise ConfigError("need at least one sample to count spikes")
    from spikeloom.train import spike_counts  # noqa: PLC0415

    totals = spike_counts(model, cfg, x, seed)
    per_sample = [float(t.sum()) / len(x) for t in totals]
    return energy_from_counts(cfg.topology, "snn", per_sample, precision, table)


def energy_ratio(ann_report: EnergyReport, snn_report: EnergyReport) -> float:
    """How many times more energy the ANN spends per sample than the SNN (inf if SNN is 0)."""
    if snn_report.energy_pj_per_sample == 0:
        return float("inf")
    return ann_report.energy_pj_per_sample / snn_report.energy_pj_per_sample
