"""Neurons, surrogate gradients, ANN/SNN models, activity recording and checkpoints."""

from __future__ import annotations

from spikeloom.snn.activity import record_spikes, recording
from spikeloom.snn.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from spikeloom.snn.models import LIF, MLP, SpikingMLP, build_model, transfer_weights
from spikeloom.snn.neuron import LIFParameters, LIFState, lif_reference, lif_sequence, lif_step

__all__ = [
    "LIF", "MLP", "Checkpoint", "LIFParameters", "LIFState", "SpikingMLP", "build_model",
    "lif_reference", "lif_sequence", "lif_step", "load_checkpoint", "record_spikes", "recording",
    "save_checkpoint", "transfer_weights",
]
