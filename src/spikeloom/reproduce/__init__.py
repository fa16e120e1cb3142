"""The reliability-aware co-design paper's whole experiment (`spikeloom reproduce`): every
topology x config + the ANN trained, selected on validation data, measured through
`spikeloom.measure` (int8 accuracy, model-wise and layer-wise fault campaigns, energy), and
written as figures, a CSV and a table beside the paper's published figures."""

from __future__ import annotations

from spikeloom.reproduce.experiment import (
    PAPER_BUDGET,
    Plan,
    full_plan,
    paper_plan,
    quick_plan,
    run_plan,
)

__all__ = ["PAPER_BUDGET", "Plan", "full_plan", "paper_plan", "quick_plan", "run_plan"]
