"""torch.rand's stream reproduced without torch: rate-coded spikes and fault hits equal
torch's own draws bit for bit."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

pytest.importorskip("numba")

from spikeloom.data.encoders import encode, make_generator  # noqa: E402
from spikeloom.faults import injection  # noqa: E402
from spikeloom.faults.bits import flip_bits  # noqa: E402
from spikeloom.faults.compiled import _pack  # noqa: E402
from spikeloom.faults.mt19937 import rand_below, rate_bits  # noqa: E402

SEEDS = [0, 7, 2**32 + 5, 2**63 - 25]  # torch keeps the low 32 bits


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", [1, 624, 625, 5000])
@pytest.mark.parametrize("p", [0.0, 1e-3, 0.3, 1.0])
def test_rand_below_is_torch_rand(seed, n, p):
    g = torch.Generator()
    g.manual_seed(seed)
    expected = (torch.rand(n, generator=g) < p).nonzero().flatten().numpy()
    assert np.array_equal(rand_below(seed, n, p), expected)


def test_rate_bits_are_the_encoders_spikes():
    torch.manual_seed(1)
    x = torch.rand(23, 50) * 1.4 - 0.2  # values outside [0, 1] too
    steps, chunk, seeds = 9, 10, [3, 2**40 + 1, 99]
    expected = np.empty((23, 50), np.uint64)
    for k, seed in enumerate(seeds):
        rows = slice(k * chunk, (k + 1) * chunk)
        _pack(encode(x[rows], "rate", steps, generator=make_generator(seed)).numpy(),
              expected[rows])
    bits = np.empty_like(expected)
    rate_bits(x.clamp(0, 1).numpy(), np.array(seeds, np.uint64) & np.uint64(0xFFFFFFFF), chunk,
              steps, bits)
    assert np.array_equal(bits, expected)
    assert expected.any() and (expected != expected.max()).any()


@pytest.mark.parametrize("rate", [1e-3, 0.2])
def test_weight_hits_are_torch_draws(monkeypatch, rate):
    """The compiled draw and torch's draw give the same faulty weights."""
    q = torch.randint(-8, 8, (30, 40), dtype=torch.int32)
    fast = injection.sample_layer_faults(q, 4, "bitflip", rate, trial_seed=11, layer=2)
    g = injection._generator(11, 2)
    hits = torch.rand((30, 40, 4), generator=g) < rate
    mask = (hits.to(torch.int64) * (1 << torch.arange(4))).sum(-1)
    assert fast.flipped == int(hits.sum()) > 0
    assert torch.equal(fast.q, flip_bits(q, mask, 4))


def test_without_numba_torch_draws_the_same_hits(monkeypatch):
    compiled = injection._hits(5, 1, 20000, 0.01)
    monkeypatch.setitem(sys.modules, "spikeloom.faults.mt19937", None)
    assert torch.equal(injection._hits(5, 1, 20000, 0.01), compiled)
