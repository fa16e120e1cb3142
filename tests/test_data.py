"""Datasets, IDX files and encoders."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from spikeloom.data import dataset_status, encode, load_dataset
from spikeloom.data.idx import read_idx, write_idx
from spikeloom.errors import DataError


def _write_tiny_mnist(folder, compress=True, n_train=12, n_test=5):
    rng = np.random.default_rng(0)
    suffix = ".gz" if compress else ""
    write_idx(folder / f"train-images-idx3-ubyte{suffix}", rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8))
    write_idx(folder / f"train-labels-idx1-ubyte{suffix}", (np.arange(n_train) % 10).astype(np.uint8))
    write_idx(folder / f"t10k-images-idx3-ubyte{suffix}", rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8))
    write_idx(folder / f"t10k-labels-idx1-ubyte{suffix}", (np.arange(n_test) % 10).astype(np.uint8))


def test_idx_header_decoded_by_hand(tmp_path):
    # magic 0x00000801 (uint8, 1 dim), size 3, data 7 8 9
    raw = bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9])
    (tmp_path / "a").write_bytes(raw)
    (tmp_path / "b.gz").write_bytes(gzip.compress(raw))
    assert read_idx(tmp_path / "a").tolist() == [7, 8, 9]
    assert read_idx(tmp_path / "b.gz").tolist() == [7, 8, 9]


def test_idx_rejects_corrupt_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"hello world")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 9, 1, 2]))
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_idx(tmp_path / "short")


@pytest.mark.parametrize("compress", [True, False])
def test_mnist_from_data_dir(tmp_path, compress):
    _write_tiny_mnist(tmp_path, compress)
    data = load_dataset("mnist", tmp_path)
    assert data.x_train.shape == (12, 784) and data.x_test.shape == (5, 784)
    assert data.x_train.dtype == torch.float32 and 0 <= data.x_train.min() and data.x_train.max() <= 1
    assert data.y_train.tolist() == [i % 10 for i in range(12)]
    assert data.num_classes == 10


def test_env_variable_and_torchvision_layout(tmp_path, monkeypatch):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    _write_tiny_mnist(raw, compress=False)
    monkeypatch.setenv("SPIKELOOM_DATA", str(tmp_path))
    assert load_dataset("fashion-mnist").x_test.shape == (5, 784)
    status = {r["name"]: r for r in dataset_status()}
    assert status["fashion-mnist"]["available"] is True


def test_missing_dataset_lists_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.delenv("SPIKELOOM_DATA", raising=False)
    with pytest.raises(DataError) as err:
        load_dataset("mnist", tmp_path / "nowhere")
    msg = str(err.value)
    assert "\n" not in msg and "nowhere" in msg and "--data-dir" in msg


def test_digits_split_is_fixed(digits):
    assert digits.x_train.shape == (1437, 64) and digits.x_test.shape == (360, 64)
    again = load_dataset("digits")
    assert torch.equal(again.x_test, digits.x_test)
    assert float(digits.x_train.max()) == 1.0


def test_rate_encoding_is_seeded_and_unbiased():
    x = torch.full((2, 1000), 0.3)
    a = encode(x, "rate", 50, seed=1)
    b = encode(x, "rate", 50, seed=1)
    assert a.shape == (50, 2, 1000) and torch.equal(a, b)
    assert not torch.equal(a, encode(x, "rate", 50, seed=2))
    assert abs(float(a.mean()) - 0.3) < 0.01
    assert set(a.unique().tolist()) <= {0.0, 1.0}


def test_latency_encoding_by_hand():
    # T = 5: t = round((1 - x) * 4): x=1 -> t0, x=0.5 -> t2, x=0.1 -> t=round(3.6)=4, x=0 -> none
    x = torch.tensor([[1.0, 0.5, 0.1, 0.0]])
    s = encode(x, "latency", 5)
    assert s[:, 0, :].T.tolist() == [[1, 0, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]]


def test_direct_encoding_repeats_input():
    x = torch.tensor([[0.2, 0.7]])
    s = encode(x, "direct", 3)
    assert s.shape == (3, 1, 2) and torch.equal(s[2], x)
