"""Fault injection: bit flips / stuck-at bits in n-bit weights, dead / saturated / perturbed
neurons; Monte Carlo campaigns (reference and fast engine) with statistics."""

from __future__ import annotations

from spikeloom.faults.bits import flip_bits, from_code, stuck_at, to_code
from spikeloom.faults.campaign import (
    DEFAULT_BERS,
    CampaignConfig,
    CampaignResult,
    ScopeResult,
    fault_population,
    replay_trial,
    run_campaign,
    scopes_of,
    trial_faults,
)
from spikeloom.faults.injection import FAULTS, LayerFaults, sample_layer_faults, sample_trial_faults
from spikeloom.faults.reference import faulty_model
from spikeloom.faults.stats import leveugle_sample_size, mean_std_ci95, t_for_confidence
from spikeloom.faults.trial import trial_seed

__all__ = [
    "DEFAULT_BERS", "FAULTS", "CampaignConfig", "CampaignResult", "LayerFaults", "ScopeResult",
    "fault_population", "faulty_model", "flip_bits", "from_code", "leveugle_sample_size",
    "mean_std_ci95", "replay_trial", "run_campaign", "sample_layer_faults",
    "sample_trial_faults", "scopes_of", "stuck_at", "t_for_confidence", "to_code",
    "trial_faults", "trial_seed",
]
