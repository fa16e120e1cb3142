"""Training loops (surrogate-gradient BPTT)."""

from __future__ import annotations

from spikeloom.train.loop import TrainResult, check_fits, fit

__all__ = ["TrainResult", "check_fits", "fit"]
