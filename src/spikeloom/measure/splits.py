"""The validation protocol: every selection reads a validation split carved from the training
data (seeded, stratified); the test split is read only to report what was chosen."""

from __future__ import annotations

import numpy as np
import torch

from spikeloom.data.registry import Dataset
from spikeloom.errors import ConfigError

DEFAULT_VAL_FRACTION = 0.15


def check_val_fraction(fraction: float) -> float:
    if not 0.0 < fraction < 0.9:
        raise ConfigError(f"validation fraction must be in (0, 0.9), got {fraction}; "
                          f"e.g. --val-fraction {DEFAULT_VAL_FRACTION}")
    return float(fraction)


def validation_split(data: Dataset, fraction: float = DEFAULT_VAL_FRACTION, seed: int = 0) -> Dataset:
    """The selection view of `data`: x_train holds the part trained on, x_test the validation
    part (`held_out='validation'`), stratified by class with a seeded shuffle. The test split
    of `data` is not read."""
    from sklearn.model_selection import train_test_split  # noqa: PLC0415

    check_val_fraction(fraction)
    y = data.y_train.numpy()
    n_val = max(1, int(round(fraction * len(y))))
    counts = np.bincount(y)
    stratify = y if n_val >= len(counts) and counts[counts > 0].min() >= 2 else None
    tr, va = train_test_split(np.arange(len(y)), test_size=n_val, random_state=int(seed) % 2**32,
                              stratify=stratify)
    tr, va = torch.from_numpy(np.sort(tr)), torch.from_numpy(np.sort(va))
    return Dataset(data.name, data.x_train[tr], data.y_train[tr], data.x_train[va], data.y_train[va],
                   data.num_classes, f"{data.source} (validation split {fraction:g}, seed {seed})",
                   held_out="validation")


def split_record(selection: Dataset, fraction: float, seed: int) -> dict:
    """What summary.json says about the protocol."""
    return {"val_fraction": fraction, "split_seed": seed, "train_samples": len(selection.x_train),
            "validation_samples": len(selection.x_test),
            "stratified": True, "selection_reads": "validation", "test_reads": "report only"}
