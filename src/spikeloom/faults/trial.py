"""One trial's faults: its seed, what the memory returns for it (sampled, restricted to the
hit bits, through the lever), and the pruned synapses it cannot hit. Shared by the campaign
loop (`campaign`) and the executor's trial blocks (`blocks`)."""

from __future__ import annotations

import dataclasses
import struct
from typing import Any

import torch

from spikeloom.faults.injection import LayerFaults, derive_seed, sample_trial_faults
from spikeloom.faults.mitigation import keep_bits, mitigate
from spikeloom.quant import QuantizedWeights


def trial_seed(campaign_seed: int, ber: float, trial: int) -> int:
    """Seed of trial `trial` at rate `ber` (independent of scope, engine and model kind)."""
    (ber_bits,) = struct.unpack("<Q", struct.pack("<d", float(ber)))
    return derive_seed(campaign_seed, ber_bits, trial)


def structural_zeros(faults: list[LayerFaults], masks: list[torch.Tensor] | None) -> list[LayerFaults]:
    """Faults with the weights outside `masks` (bool [out, in] per layer; False = pruned, not
    stored) kept at zero: a synapse that is not stored cannot be hit."""
    if masks is None:
        return faults
    return [dataclasses.replace(f, q=f.q * masks[f.layer - 1].to(f.q.dtype)) if f.q is not None else f
            for f in faults]


def read_faults(qw: QuantizedWeights, cc: Any, ber: float, seed: int,
                 layers: tuple[int, ...]) -> list[LayerFaults]:
    """One trial's faults as the memory reads them: sampled, then through `cc.mitigation`.
    cc: the `campaign.CampaignConfig` (fault, threshold_factor, hit_bits, mitigation,
    protected_bits are read)."""
    bits = qw.layer_bits or qw.bits
    faults = sample_trial_faults(qw.q, bits, cc.fault, ber, seed, layers, cc.threshold_factor)
    if cc.hit_bits is not None:
        faults = keep_bits(faults, qw.q, bits, cc.hit_bits)
    return mitigate(cc.mitigation, faults, qw.q, bits, cc.fault, ber, seed, layers, cc.protected_bits)
