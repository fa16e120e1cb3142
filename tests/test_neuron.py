"""LIF neuron: hand-computed golden trajectories, fused kernel == reference, snnTorch parity."""

from __future__ import annotations

import pytest
import torch

from spikeloom.snn.neuron import LIFParameters, lif_reference, lif_sequence
from spikeloom.snn.surrogate import surrogate_grad


def test_golden_subtract_reset_by_hand():
    # beta = 0.5, theta = 1, constant input 0.8 for 6 steps, subtractive reset.
    # U1 = 0.8            S1 = 0
    # U2 = 0.4 + 0.8 = 1.2  S2 = 1
    # U3 = 0.6 + 0.8 - 1 = 0.4  S3 = 0
    # U4 = 0.2 + 0.8 = 1.0  S4 = 0   (spike only when U > theta, strictly)
    # U5 = 0.5 + 0.8 = 1.3  S5 = 1
    # U6 = 0.65 + 0.8 - 1 = 0.45 S6 = 0
    cur = torch.full((6, 1, 1), 0.8, dtype=torch.float64)
    p = LIFParameters(beta=0.5, threshold=1.0)
    spk, mem = lif_sequence(cur, p, return_mem=True)
    assert mem.flatten().tolist() == pytest.approx([0.8, 1.2, 0.4, 1.0, 1.3, 0.45])
    assert spk.flatten().tolist() == [0, 1, 0, 0, 1, 0]


def test_golden_zero_reset_and_if_neuron_by_hand():
    # Zero reset, beta = 1 (IF), theta = 1, input 0.6:
    # U: 0.6, 1.2 (spike), 0.6 (reset to 0 then + 0.6), 1.2 (spike), 0.6
    cur = torch.full((5, 1, 1), 0.6, dtype=torch.float64)
    spk, mem = lif_sequence(cur, LIFParameters(beta=1.0, threshold=1.0, reset="zero"), return_mem=True)
    assert mem.flatten().tolist() == pytest.approx([0.6, 1.2, 0.6, 1.2, 0.6])
    assert spk.flatten().tolist() == [0, 1, 0, 1, 0]
    # Subtract reset with IF: U = 0.6, 1.2(s), 0.8, 1.4(s), 1.0 (no spike at exactly theta)
    spk, mem = lif_sequence(cur, LIFParameters(beta=1.0, threshold=1.0), return_mem=True)
    assert mem.flatten().tolist() == pytest.approx([0.6, 1.2, 0.8, 1.4, 1.0])
    assert spk.flatten().tolist() == [0, 1, 0, 1, 0]


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("surrogate", ["fast_sigmoid", "arctan", "triangle"])
def test_fused_matches_reference_values_and_gradients(reset, surrogate):
    torch.manual_seed(0)
    cur = (torch.randn(12, 5, 7, dtype=torch.float64) * 0.8 + 0.4)
    beta = torch.tensor(0.9, dtype=torch.float64)
    theta = torch.tensor(0.7, dtype=torch.float64)
    weights = torch.randn(12, 5, 7, dtype=torch.float64)

    def run(fn):
        c = cur.clone().requires_grad_(True)
        b = beta.clone().requires_grad_(True)
        th = theta.clone().requires_grad_(True)
        p = LIFParameters(b, th, reset, surrogate, slope=5.0)
        spk = fn(c, p)
        (spk * weights).sum().backward()
        return spk.detach(), c.grad, b.grad, th.grad

    fused = run(lambda c, p: lif_sequence(c, p))
    ref = run(lambda c, p: lif_reference(c, p)[0])
    assert torch.equal(fused[0], ref[0])
    for a, b in zip(fused[1:], ref[1:]):
        assert torch.allclose(a, b, atol=1e-10), (a, b)


def test_surrogate_shapes_by_hand():
    v = torch.tensor([0.0, 0.1, -0.5])
    assert surrogate_grad(v, "fast_sigmoid", 10.0).tolist() == pytest.approx([1.0, 0.25, 1 / 36])
    assert surrogate_grad(v, "triangle", 2.0).tolist() == pytest.approx([2.0, 1.6, 0.0])
    atan = surrogate_grad(v, "arctan", 2.0)
    assert atan[0].item() == pytest.approx(1.0)
    assert atan[1].item() == pytest.approx(1.0 / (1 + (torch.pi * 0.1) ** 2))


def test_spike_for_spike_agreement_with_snntorch_leaky():
    snn = pytest.importorskip("snntorch")
    torch.manual_seed(3)
    fc = torch.nn.Linear(20, 8, bias=False)
    x = (torch.rand(30, 4, 20) < 0.3).float()
    beta, theta = 0.9, 0.5
    with torch.no_grad():
        cur = fc(x)
        ours, ours_mem = lif_sequence(cur, LIFParameters(beta, theta), return_mem=True)
        leaky = snn.Leaky(beta=beta, threshold=theta, reset_mechanism="subtract")
        mem = leaky.reset_mem() if hasattr(leaky, "reset_mem") else leaky.init_leaky()
        spikes, mems = [], []
        for t in range(30):
            spk, mem = leaky(cur[t], mem)
            spikes.append(spk)
            mems.append(mem)
    theirs = torch.stack(spikes)
    assert ours.sum() > 0
    assert torch.equal(ours, theirs)
    assert torch.allclose(ours_mem, torch.stack(mems), atol=1e-5)
