"""Explainability for spikeloom SNNs: signals (what neurons do), attributions (which input
spikes matter), rules (a decision tree imitating the network) and measured faithfulness.

`explain_model` runs any mix of methods and writes the figures; the submodules hold the pure
pieces (`signals`, `attribution`, `rules`, `faithfulness`, `plots`).
"""

from __future__ import annotations

from spikeloom.explain.attribution import (
    IntegratedGradients,
    NeuronAblation,
    Occlusion,
    Saliency,
    SpikeActivationMap,
    project_to_inputs,
    spike_activation_map,
)
from spikeloom.explain.faithfulness import Curve, Faithfulness, curves, random_baseline, ranking
from spikeloom.explain.forward import SampleForward, trace
from spikeloom.explain.pipeline import (
    ATTRIBUTION_METHODS,
    DEFAULT_METHODS,
    METHODS,
    SNN_ONLY,
    ExplainOptions,
    ExplainResult,
    check_request,
    explain_model,
    parse_methods,
)
from spikeloom.explain.rules import RuleSet, extract_rules, fidelity_by_depth

__all__ = [
    "ATTRIBUTION_METHODS", "DEFAULT_METHODS", "METHODS", "SNN_ONLY", "Curve", "ExplainOptions",
    "ExplainResult", "Faithfulness", "IntegratedGradients", "NeuronAblation", "Occlusion",
    "RuleSet", "Saliency", "SampleForward", "SpikeActivationMap", "check_request", "curves",
    "explain_model", "extract_rules", "fidelity_by_depth", "parse_methods", "project_to_inputs",
    "random_baseline", "ranking", "spike_activation_map", "trace",
]
