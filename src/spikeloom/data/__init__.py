"""Datasets (embedded digits, IDX MNIST / Fashion-MNIST) and spike encoders."""

from __future__ import annotations

from spikeloom.data.encoders import encode, make_generator
from spikeloom.data.registry import DATASETS, Dataset, dataset_status, load_dataset

__all__ = ["DATASETS", "Dataset", "dataset_status", "encode", "load_dataset", "make_generator"]
