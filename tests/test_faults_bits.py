"""Fault models on stored two's complement weights, checked by hand, and BER statistics."""

from __future__ import annotations

import pytest
import torch

from spikeloom.faults import flip_bits, from_code, sample_layer_faults, stuck_at, to_code
from spikeloom.faults.bits import bit_mask


def test_twos_complement_by_hand():
    q = torch.tensor([5, -1, -128, 127, 0])
    assert to_code(q, 8).tolist() == [5, 255, 128, 127, 0]
    assert from_code(torch.tensor([133, 255, 128, 127]), 8).tolist() == [-123, -1, -128, 127]


def test_bit_flips_by_hand():
    q = torch.tensor([5, 5, -1, 127, 3])
    mask = torch.tensor([1 << 7, 1 << 0, 1 << 7, 1 << 7 | 1, 0b1100])
    # 5 = 0000_0101: bit 7 -> 1000_0101 = -123; bit 0 -> 4; -1 = 1111_1111: bit 7 -> 0111_1111 = 127
    # 127 = 0111_1111: bits 7 and 0 -> 1111_1110 = -2; 3 = 0000_0011: bits 2, 3 -> 0000_1111 = 15
    assert flip_bits(q, mask, 8).tolist() == [-123, 4, 127, -2, 15]
    assert flip_bits(torch.tensor([1]), torch.tensor([0b100]), 3).tolist() == [-3]  # 001 -> 101


def test_stuck_at_by_hand():
    q = torch.tensor([5, -1, 0])
    mask = torch.tensor([0b101, 1 << 7, 1 << 7])
    assert stuck_at(q, mask, 0, 8).tolist() == [0, 127, 0]
    assert stuck_at(q, mask, 1, 8).tolist() == [5, -1, -128]


def test_bit_mask_packs_hits():
    # cells of [2, 3 bits]: weight 0 bits 0 and 2, weight 1 none
    assert bit_mask(torch.tensor([0, 2]), (2,), 3).tolist() == [5, 0]
    assert bit_mask(torch.tensor([1, 5]), (1, 2), 3).tolist() == [[2, 4]]


@pytest.mark.parametrize("ber", [1e-3, 0.05])
def test_fraction_of_flipped_bits_matches_ber(ber):
    q = torch.zeros(400, 250, dtype=torch.int32)
    faults = sample_layer_faults(q, 8, "bitflip", ber, trial_seed=123, layer=1)
    bits = q.numel() * 8
    codes = to_code(faults.q, 8)  # clean weights are 0, so set bits = flipped bits
    flipped = int(sum(((codes >> b) & 1).sum() for b in range(8)))
    assert flipped == faults.flipped
    sigma = (bits * ber * (1 - ber)) ** 0.5
    assert abs(flipped - bits * ber) < 5 * sigma  # 800,000 bits


def test_same_seed_same_faults_and_neuron_faults():
    q = torch.randint(-100, 100, (30, 20), dtype=torch.int32)
    a = sample_layer_faults(q, 8, "bitflip", 0.01, 7, 2)
    b = sample_layer_faults(q, 8, "bitflip", 0.01, 7, 2)
    c = sample_layer_faults(q, 8, "bitflip", 0.01, 8, 2)
    assert torch.equal(a.q, b.q) and not torch.equal(a.q, c.q)
    assert sample_layer_faults(q, 8, "bitflip", 0.0, 7, 2).empty
    dead = sample_layer_faults(q, 8, "dead", 0.5, 7, 2)
    assert dead.dead.shape == (30,) and dead.q is None and 5 < int(dead.dead.sum()) < 25
    thr = sample_layer_faults(q, 8, "threshold", 0.5, 7, 2, threshold_factor=2.0)
    assert set(thr.threshold_scale.tolist()) == {1.0, 2.0}
