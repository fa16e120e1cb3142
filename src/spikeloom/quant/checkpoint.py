"""Quantized checkpoints: the integers and scales ride in `Checkpoint.extra["quantization"]`
(plain tensors, so `torch.load(weights_only=True)` still reads them)."""

from __future__ import annotations

import dataclasses

from torch import nn

from spikeloom.errors import CheckpointError
from spikeloom.quant.ptq import QuantizedWeights, apply_quantized
from spikeloom.snn.checkpoint import Checkpoint

KEY = "quantization"


def quantized_checkpoint(ckpt: Checkpoint, qw: QuantizedWeights) -> Checkpoint:
    """A copy of `ckpt` that records `qw`; its state dict holds the dequantized weights."""
    state = dict(ckpt.state_dict)
    for i, w in enumerate(qw.dequantized()):
        state[f"fcs.{i}.weight"] = w
    return dataclasses.replace(ckpt, state_dict=state, extra={**ckpt.extra, KEY: qw.to_dict()})


def checkpoint_quantization(ckpt: Checkpoint) -> QuantizedWeights | None:
    """The quantization a checkpoint records, or None for a float checkpoint."""
    data = ckpt.extra.get(KEY)
    if data is None:
        return None
    try:
        return QuantizedWeights.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint's quantization record is damaged ({exc}); "
                              "quantize the float model again") from None


def build_checkpoint_model(ckpt: Checkpoint, device: str = "cpu") -> nn.Module:
    """The checkpoint's model: quantized layers when it records a quantization, else float."""
    model = ckpt.build(device)
    qw = checkpoint_quantization(ckpt)
    return model if qw is None else apply_quantized(model, qw)
