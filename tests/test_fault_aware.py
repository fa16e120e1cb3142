"""Fault-aware training: the faulty copy by hand, float weights restored, the option recorded
and changing what is learned (and absent from configs that do not use it)."""

from __future__ import annotations

import pytest
import torch

from spikeloom.errors import ConfigError
from spikeloom.spec import ModelConfig, TrainConfig
from spikeloom.train import fit
from spikeloom.train.fault_aware import faulty_copy, faulty_weights


def test_faulty_copy_by_hand():
    w = torch.tensor([[0.6, -0.3], [1.0, 0.0]])
    gen = torch.Generator().manual_seed(7)
    got = faulty_copy(w, 4, 0.3, gen)
    u = torch.rand(4 * 4, generator=torch.Generator().manual_seed(7))  # the same draws
    s = 1.0 / 7
    want = []
    for i, v in enumerate([0.6, -0.3, 1.0, 0.0]):
        q = round(v / s) & 0xF                                   # int4 two's complement code
        for b in range(4):
            if u[i * 4 + b] < 0.3:
                q ^= 1 << b
        want.append((q - 16 if q >= 8 else q) * s)
    assert got.flatten().tolist() == pytest.approx(want)
    assert faulty_copy(w, 4, 0.0, gen).flatten().tolist() == pytest.approx([4 * s, -2 * s, 1.0, 0.0])


def test_weights_restored_and_gradient_kept():
    fc = torch.nn.Linear(3, 2, bias=False)
    model = torch.nn.Module()
    model.fcs = torch.nn.ModuleList([fc])
    before = fc.weight.detach().clone()
    with faulty_weights(model, 0.2, 8, torch.Generator().manual_seed(0)):
        assert not torch.equal(fc.weight, before)
        fc(torch.ones(1, 3)).sum().backward()
    assert torch.equal(fc.weight, before) and fc.weight.grad is not None


def test_training_option(digits):
    cfg = ModelConfig(topology=(64, 16, 10), timesteps=4)
    plain = TrainConfig(epochs=1, seed=2, train_subset=200)
    aware = plain.replace(fault_aware_ber=0.02)
    assert "fault_aware_ber" not in plain.to_dict() and aware.to_dict()["fault_aware_ber"] == 0.02
    a, b = fit(cfg, plain, digits).checkpoint, fit(cfg, aware, digits).checkpoint
    assert not torch.equal(a.state_dict["fcs.0.weight"], b.state_dict["fcs.0.weight"])
    assert b.train_config.fault_aware_ber == 0.02
    with pytest.raises(ConfigError, match="fault-aware"):
        TrainConfig(fault_aware_ber=0.7)
