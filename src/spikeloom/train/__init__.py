"""Training and evaluation loops."""

from __future__ import annotations

from spikeloom.train.evaluate import (
    EVAL_CHUNK,
    default_device,
    eval_batches,
    evaluate,
    model_inputs,
    predict,
    spike_counts,
)
from spikeloom.train.loop import TrainResult, check_fits, fit

__all__ = ["EVAL_CHUNK", "TrainResult", "check_fits", "default_device", "eval_batches", "evaluate",
           "fit", "model_inputs", "predict", "spike_counts"]
