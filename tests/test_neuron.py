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


def _grads(fn, cur, beta, theta, reset, surrogate, weights):
    c = cur.clone().requires_grad_(True)
    b = beta.clone().requires_grad_(True)
    th = theta.clone().requires_grad_(True)
    spk = fn(c, LIFParameters(b, th, reset, surrogate, slope=5.0))
    (spk * weights).sum().backward()
    return spk.detach(), c.grad, b.grad, th.grad


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_fused_matches_reference_with_per_neuron_beta_and_threshold(reset):
    torch.manual_seed(1)
    cur = torch.randn(9, 4, 6, dtype=torch.float64) * 0.8 + 0.4
    beta = torch.linspace(0.5, 1.0, 6, dtype=torch.float64)
    theta = torch.linspace(0.3, 1.2, 6, dtype=torch.float64)
    weights = torch.randn(9, 4, 6, dtype=torch.float64)
    fused = _grads(lambda c, p: lif_sequence(c, p), cur, beta, theta, reset, "fast_sigmoid", weights)
    ref = _grads(lambda c, p: lif_reference(c, p)[0], cur, beta, theta, reset, "fast_sigmoid", weights)
    assert torch.equal(fused[0], ref[0])
    for a, b in zip(fused[1:], ref[1:]):
        assert a.shape == b.shape
        assert torch.allclose(a, b, atol=1e-10), (a, b)


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_inference_path_is_bit_identical_to_reference_and_training_path(reset):
    # Without autograd the scan keeps one membrane buffer; spikes and membrane must not change.
    torch.manual_seed(2)
    cur = torch.randn(20, 8, 16) * 0.7 + 0.3
    p = LIFParameters(0.9, 0.6, reset)
    ref_spk, ref_mem = lif_reference(cur, p)
    with torch.no_grad():
        spk_only = lif_sequence(cur, p)
        spk, mem = lif_sequence(cur, p, return_mem=True)
    train_spk, train_mem = lif_sequence(cur.clone().requires_grad_(True), p, return_mem=True)
    assert spk_only.sum() > 0
    for s in (spk_only, spk, train_spk):
        assert torch.equal(s, ref_spk.detach())
    for m in (mem, train_mem):
        assert torch.equal(m, ref_mem.detach())
    assert not spk_only.requires_grad and train_spk.requires_grad


def test_backward_leaves_returned_membrane_and_retained_graph_intact():
    torch.manual_seed(4)
    cur = (torch.randn(10, 3, 5, dtype=torch.float64) + 0.5).requires_grad_(True)
    spk, mem = lif_sequence(cur, LIFParameters(0.8, 0.5), return_mem=True)
    mem_before = mem.clone()
    w = torch.randn_like(spk)
    (spk * w).sum().backward(retain_graph=True)
    first = cur.grad.clone()
    cur.grad = None
    (spk * w).sum().backward()
    assert torch.equal(mem, mem_before)
    assert torch.equal(cur.grad, first)


def test_non_contiguous_and_expanded_inputs():
    torch.manual_seed(5)
    base = torch.randn(6, 7, 3) + 0.5
    cur = base.transpose(1, 2)  # [6, 3, 7], not contiguous
    p = LIFParameters(0.9, 0.4)
    with torch.no_grad():
        assert torch.equal(lif_sequence(cur, p), lif_reference(cur, p)[0])
    c = cur.detach().clone().requires_grad_(True)
    spk = lif_sequence(c, p)
    spk.sum().backward()  # the count readout's gradient arrives expanded (stride 0)
    c2 = cur.detach().clone().requires_grad_(True)
    lif_reference(c2, p)[0].sum().backward()
    assert torch.allclose(c.grad, c2.grad, atol=1e-6)


@pytest.mark.parametrize("kind", ["fast_sigmoid", "arctan", "triangle"])
def test_in_place_surrogate_product_matches_plain_formula(kind):
    from spikeloom.snn.surrogate import surrogate_grad_times

    v = torch.linspace(-1.0, 1.0, 41, dtype=torch.float64)
    grad = torch.randn(41, dtype=torch.float64)
    expected = grad * surrogate_grad(v, kind, 3.0)
    got = surrogate_grad_times(v.clone(), grad, kind, 3.0)
    assert torch.allclose(got, expected, atol=1e-12)


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("surrogate", ["fast_sigmoid", "arctan", "triangle"])
@pytest.mark.parametrize("per_neuron", [False, True])
def test_float32_input_gradients_are_bit_identical_to_reference(reset, surrogate, per_neuron):
    # The fused backward runs the reference's own kernels in its order, so training with the
    # fused neuron follows exactly the trajectory of the plain autograd loop.
    torch.manual_seed(6)
    cur = torch.randn(12, 16, 32) * 0.5 + 0.3
    beta = torch.linspace(0.5, 1.0, 32) if per_neuron else torch.tensor(0.95)
    weights = torch.randn(12, 16, 32)
    grads = []
    for fn in (lambda c, p: lif_sequence(c, p), lambda c, p: lif_reference(c, p)[0]):
        c = cur.clone().requires_grad_(True)
        spk = fn(c, LIFParameters(beta, 0.8, reset, surrogate, slope=5.0))
        (spk * weights).sum().backward()
        grads.append((spk.detach(), c.grad))
    assert torch.equal(grads[0][0], grads[1][0])
    assert torch.equal(grads[0][1], grads[1][1])
