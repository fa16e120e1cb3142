"""The measurement layer: every figure a user sees comes from here, so that `spikeloom
energy`, `faults`, the searches, NAS, `explain` and `run` cannot disagree.

accuracy     evaluation protocol (chunks + per-chunk encoding seeds): `evaluate`, `correct`
spike_counts  spikes per neuron over a set (from `snn.inference`, the one implementation)
energy       energy from counts, dense fan-out or stored synapses (`measure_energy`)
reliability  the campaign runner (`measure_reliability`), reliability figures of a campaign
graph        model -> crossbar graph under a `PruningPolicy`, spike profiles
splits       the validation split every selection reads (`validation_split`)
compare      SNN-vs-ANN comparisons with confidence (`compare_accuracy`, `compare_paired`)
"""

from __future__ import annotations

from spikeloom.measure.accuracy import correct, evaluate
from spikeloom.measure.compare import Comparison, compare_accuracy, compare_paired, compare_strict
from spikeloom.measure.energy import measure_energy
from spikeloom.measure.graph import (
    PruningPolicy,
    graph_from_checkpoint,
    graph_from_model,
    spike_profile,
)
from spikeloom.measure.reliability import measure_reliability, reliability_at, trial_reliabilities
from spikeloom.measure.splits import validation_split
from spikeloom.snn.inference import predict, resolve_device, spike_counts

__all__ = [
    "Comparison", "PruningPolicy", "compare_accuracy", "compare_paired", "compare_strict", "correct",
    "evaluate", "graph_from_checkpoint", "graph_from_model", "measure_energy", "measure_reliability",
    "predict", "reliability_at", "resolve_device", "spike_counts", "spike_profile",
    "trial_reliabilities", "validation_split",
]
