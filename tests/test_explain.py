"""spikeloom.explain pinned to numbers computed independently (by hand or by plain autograd)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

from spikeloom.errors import ConfigError
from spikeloom.explain import (
    IntegratedGradients,
    NeuronAblation,
    Occlusion,
    Saliency,
    SpikeActivationMap,
    curves,
    extract_rules,
    project_to_inputs,
    random_baseline,
    ranking,
    spike_activation_map,
    trace,
)
from spikeloom.explain.signals import Activity, embed_neurons, membrane, psth, rate_map
from spikeloom.snn.models import build_model
from spikeloom.snn.neuron import LIFParameters, lif_reference
from spikeloom.spec import ModelConfig


def tiny_snn(topology=(9, 6, 3), timesteps=6, seed=0, **kw) -> nn.Module:
    torch.manual_seed(seed)
    model = build_model(ModelConfig(arch="snn", topology=topology, timesteps=timesteps,
                                    threshold=0.5, beta=0.9, **kw)).eval()
    with torch.no_grad():
        for fc in model.fcs:
            fc.weight.mul_(2.5)  # busy enough that most neurons fire
    return model


def rate_train(batch, timesteps, features, seed=1, p=0.6) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(batch, timesteps, features, generator=g) < p).float()


# ---------------- SAM ----------------

def test_sam_matches_hand_computation():
    gamma = 0.5
    spikes = torch.tensor([[1, 1], [1, 0], [0, 0], [1, 0], [0, 1]], dtype=torch.float32)  # [T, N]
    e = math.exp
    expected = torch.tensor([
        [0.0, 0.0],                                   # first spikes: no earlier spike
        [e(-gamma * 1), 0.0],                         # neuron 0 at t=1: spike at 0
        [0.0, 0.0],                                   # no spike at t=2
        [e(-gamma * 3) + e(-gamma * 2), 0.0],         # t=3: spikes at 0 and 1
        [0.0, e(-gamma * 4)],                         # neuron 1 at t=4: spike at 0
    ])
    assert torch.allclose(spike_activation_map(spikes, gamma), expected, atol=1e-7)


def test_positive_weight_projection_by_hand():
    # one neuron with weights (2, 1) from two inputs, beta 0.5; input 0 spikes at t=0,
    # input 1 at t=1; relevance 1 at both steps. At t=0 all of it goes to input 0; at t=1
    # the positive current is 2*0.5 (input 0, decayed) + 1*1 (input 1) = 2, split 0.5/0.5.
    inputs = torch.tensor([[1.0, 0.0], [0.0, 1.0]])[:, None, :]  # [T=2, B=1, M=2]
    relevance = torch.ones(2, 1, 1)
    out = project_to_inputs(relevance, inputs, torch.tensor([[2.0, 1.0]]), 0.5)
    assert torch.allclose(out[:, 0], torch.tensor([[1.5, 0.0], [0.0, 0.5]]))
    # a negative weight receives nothing, and relevance is conserved
    out = project_to_inputs(relevance, inputs, torch.tensor([[2.0, -1.0]]), 0.5)
    assert torch.allclose(out[:, 0], torch.tensor([[2.0, 0.0], [0.0, 0.0]]))


def test_sam_attribution_conserves_and_refuses_ann():
    model = tiny_snn()
    x = rate_train(2, 6, 9)
    sam = SpikeActivationMap(model, gamma=0.4, class_weighted=False)
    values = sam.attribute(x, 0)
    run = trace(model, x.transpose(0, 1))
    hidden_sam = spike_activation_map(run.spikes[0], 0.4)
    # every hidden neuron that fired received positive input current, so mass is conserved
    assert torch.allclose(values.sum(dim=(1, 2)), hidden_sam.sum(dim=(0, 2)), rtol=1e-5)
    assert (values >= 0).all() and (values[x == 0] == 0).all()  # only input spikes score
    ann = build_model(ModelConfig(arch="ann", topology=(9, 6, 3)))
    with pytest.raises(ConfigError, match="needs a spiking model"):
        SpikeActivationMap(ann)


# ---------------- gradients ----------------

def reference_logits(model, x_btd: torch.Tensor) -> torch.Tensor:
    """The SNN written out with the unfused step reference (independent of the fused kernel)."""
    h = x_btd.transpose(0, 1)
    for fc, lif in zip(model.fcs, model.lifs):
        p = LIFParameters(float(lif.beta), float(lif.threshold), lif.reset, lif.surrogate, lif.slope)
        h, _ = lif_reference(h @ fc.weight.T, p)
    return h.sum(0)


def test_saliency_equals_autograd_of_reference_forward():
    model = tiny_snn()
    x = rate_train(3, 6, 9)
    targets = torch.tensor([0, 2, 1])
    got = Saliency(model).attribute(x, targets)
    xr = x.clone().requires_grad_(True)
    reference_logits(model, xr).gather(1, targets[:, None]).sum().backward()
    assert got.shape == x.shape
    assert torch.allclose(got, xr.grad, atol=1e-6)
    assert got.abs().sum() > 0
    assert torch.equal(Saliency(model, abs=True).attribute(x, targets), got.abs())


def test_integrated_gradients_completeness():
    # linear SNN (membrane readout, no hidden layer): completeness holds exactly
    torch.manual_seed(0)
    lin = build_model(ModelConfig(topology=(5, 3), timesteps=4, readout="membrane")).eval()
    x = rate_train(2, 4, 5)
    attr, delta = IntegratedGradients(lin, n_steps=8).attribute(x, 1, return_convergence_delta=True)
    with torch.no_grad():
        gap = lin(x.transpose(0, 1))[:, 1] - lin(torch.zeros(4, 2, 5))[:, 1]
    assert torch.allclose(attr.sum(dim=(1, 2)), gap, atol=1e-5)
    assert delta.abs().max() < 1e-5
    # piecewise-linear ANN: completeness up to the integration error
    torch.manual_seed(1)
    ann = build_model(ModelConfig(arch="ann", topology=(6, 16, 3))).eval()
    xa = torch.rand(3, 6)
    attr = IntegratedGradients(ann, n_steps=300).attribute(xa, 2)
    with torch.no_grad():
        gap = ann(xa)[:, 2] - ann(torch.zeros(3, 6))[:, 2]
    assert torch.allclose(attr.sum(1), gap, atol=2e-3)


def test_no_state_leaks_between_calls():
    model = tiny_snn()
    x, y = rate_train(1, 6, 9, seed=3), rate_train(1, 6, 9, seed=4)
    fwd = lambda s: model(s.transpose(0, 1))  # noqa: E731
    first = fwd(x)
    fwd(y)
    assert torch.equal(fwd(x), first)
    for method in (IntegratedGradients(model, n_steps=16), Saliency(model),
                   SpikeActivationMap(model), Occlusion(model)):
        fresh = method.attribute(x, 1)
        again = method.attribute(x, 1)
        method.attribute(y, 0)
        after_other = method.attribute(x, 1)
        assert torch.equal(fresh, again) and torch.equal(fresh, after_other), type(method).__name__
    # a batch gives each sample what it gets alone
    both = IntegratedGradients(model, n_steps=16).attribute(torch.cat([y, x]), torch.tensor([0, 1]))
    assert torch.allclose(both[1:], IntegratedGradients(model, n_steps=16).attribute(x, 1), atol=1e-6)


# ---------------- occlusion and ablation ----------------

def test_occlusion_on_a_linear_model():
    torch.manual_seed(0)
    ann = build_model(ModelConfig(arch="ann", topology=(3, 2))).eval()  # logits = W x
    x = torch.tensor([[0.5, 1.0, 0.25]])
    got = Occlusion(ann).attribute(x, 1)  # 3 is not a square: one window per feature
    assert torch.allclose(got[0], ann.fcs[0].weight[1] * x[0], atol=1e-6)
    # 3x3 image, 2x2 windows: a pixel's score is the mean over the windows covering it of
    # the logit the whole window carries
    ann9 = build_model(ModelConfig(arch="ann", topology=(9, 2))).eval()
    x9 = torch.rand(1, 9)
    w = (ann9.fcs[0].weight[0] * x9[0]).reshape(3, 3).detach().numpy()
    expected = np.zeros((3, 3))
    covers = np.zeros((3, 3))
    for r in range(2):
        for c in range(2):
            expected[r:r + 2, c:c + 2] += w[r:r + 2, c:c + 2].sum()
            covers[r:r + 2, c:c + 2] += 1
    got = Occlusion(ann9, window=2).attribute(x9, 0)[0].reshape(3, 3).numpy()
    assert np.allclose(got, expected / covers, atol=1e-5)


def test_neuron_ablation_matches_a_model_with_the_neuron_cut():
    model = tiny_snn(topology=(9, 6, 5, 3), timesteps=6, seed=2)
    x_seq = rate_train(40, 6, 9, seed=5).transpose(0, 1)
    labels = torch.randint(0, 3, (40,), generator=torch.Generator().manual_seed(6))
    drops = NeuronAblation(model, chunk_rows=7).attribute(x_seq, labels)
    with torch.no_grad():
        base = (model(x_seq).argmax(1) == labels).float().mean()
        for layer, drop in enumerate(drops):
            assert drop.shape == (model.fcs[layer].out_features,)
            for i in range(len(drop)):
                cut = copy.deepcopy(model)
                cut.fcs[layer + 1].weight[:, i] = 0  # neuron i's spikes reach nobody
                acc = (cut(x_seq).argmax(1) == labels).float().mean()
                assert float(drop[i]) == pytest.approx(float(base - acc), abs=1e-6)
    assert any(float(d.abs().max()) > 0 for d in drops)  # the check is not vacuous


# ---------------- faithfulness ----------------

W4 = torch.tensor([4.0, 3.0, 2.0, 1.0])


def linear_logits(batch: torch.Tensor) -> torch.Tensor:
    """Toy model: logit 0 = sum_j w_j x_j, logit 1 = 0."""
    score = batch.reshape(len(batch), -1, 4).sum(1) @ W4
    return torch.stack([score, torch.zeros_like(score)], 1)


def test_deletion_and_insertion_auc_by_hand():
    x = torch.ones(4)
    order = ranking(W4, x)  # most important first: 0, 1, 2, 3
    assert order.tolist() == [0, 1, 2, 3]
    f = curves(linear_logits, x, 0, order, steps=4, score="logit")
    assert f.deletion.scores == (10.0, 6.0, 3.0, 1.0, 0.0)
    assert f.deletion.auc == pytest.approx(0.25 * (8 + 4.5 + 2 + 0.5))  # 3.75
    assert f.insertion.scores == (0.0, 4.0, 7.0, 9.0, 10.0)
    assert f.insertion.auc == pytest.approx(0.25 * (2 + 5.5 + 8 + 9.5))  # 6.25
    worst = curves(linear_logits, x, 0, ranking(-W4, x), steps=4, score="logit")
    assert worst.deletion.scores == (10.0, 9.0, 7.0, 4.0, 0.0)  # least important first
    assert worst.deletion.auc == pytest.approx(6.25)
    # probability score: softmax of (s, 0) for the target
    p = curves(linear_logits, x, 0, order, steps=4, score="prob")
    assert p.deletion.scores[1] == pytest.approx(1 / (1 + math.exp(-6)))


def test_only_active_units_are_ranked_and_random_baseline():
    x = torch.tensor([1.0, 1.0, 1.0, 0.0])  # unit 3 is silent: removing it changes nothing
    f = curves(linear_logits, x, 0, ranking(W4, x), steps=3, score="logit")
    assert f.deletion.scores == (9.0, 5.0, 2.0, 0.0)
    assert f.deletion.auc == pytest.approx((7 + 3.5 + 1) / 3)
    # with equal weights every ordering gives the same curve: 4, 3, 2, 1, 0 -> AUC 2
    flat = lambda b: torch.stack([b.sum(1), torch.zeros(len(b))], 1)  # noqa: E731
    r = random_baseline(flat, torch.ones(4), 0, steps=4, score="logit", repeats=3, seed=0)
    assert r.deletion.auc == pytest.approx(2.0) and r.insertion.auc == pytest.approx(2.0)


def test_time_bin_units_on_an_input_train():
    x = torch.zeros(2, 4)
    x[0, 0] = x[1, 0] = x[1, 2] = 1  # three active bins
    attribution = torch.zeros(2, 4)
    attribution[1, 0], attribution[0, 0], attribution[1, 2] = 3.0, 2.0, 1.0
    order = ranking(attribution, x, unit="bin")
    assert order.tolist() == [4, 0, 6]  # flat indices of (1,0), (0,0), (1,2)
    f = curves(linear_logits, x, 0, order, unit="bin", steps=3, score="logit")
    assert f.deletion.scores == (10.0, 6.0, 2.0, 0.0)
    with pytest.raises(ConfigError, match="temporal attribution"):
        ranking(torch.zeros(4), x, unit="bin")


# ---------------- rules ----------------

def test_rule_fidelity_independently_known():
    g = np.random.default_rng(0)
    counts_fit, counts_test = g.integers(0, 11, (400, 5)), g.integers(0, 11, (100, 5))
    rule = lambda c: (c[:, 2] > 5).astype(int)  # noqa: E731 - the "SNN" looks at neuron 2 only
    pred_test = rule(counts_test)
    flipped = pred_test.copy()
    flipped[:10] = 1 - flipped[:10]  # the SNN disagrees with its own rule on 10 of 100
    rules = extract_rules(counts_fit, rule(counts_fit), counts_test, flipped, layer=2,
                          max_depth=3, labels_test=pred_test)
    assert rules.fidelity == pytest.approx(0.90) and rules.accuracy == pytest.approx(1.0)
    assert rules.depth == 1 and rules.leaves == 2 and rules.train_fidelity == 1.0
    assert "L2n2 <= 5.50" in rules.text
    with pytest.raises(ConfigError, match="depth must be >= 1"):
        extract_rules(counts_fit, rule(counts_fit), counts_test, flipped, layer=2, max_depth=0)


# ---------------- signals ----------------

def test_trace_and_membrane_agree_with_the_model():
    model = tiny_snn()
    x = rate_train(2, 6, 9).transpose(0, 1)
    run = trace(model, x)
    assert torch.equal(run.logits, model(x))
    lif = model.lifs[0]
    p = LIFParameters(float(lif.beta), float(lif.threshold), lif.reset)
    with torch.no_grad():
        spikes, mem = lif_reference(x @ model.fcs[0].weight.T, p)
    assert torch.equal(run.spikes[0], spikes) and torch.allclose(run.membrane[0], mem, atol=1e-6)
    m = membrane(model, x[:, 0], layer=1, neurons=(0, 3))
    assert np.allclose(m.potential, mem[:, 0, [0, 3]].numpy(), atol=1e-6) and m.threshold == 0.5
    with pytest.raises(ConfigError, match="outside layer 1"):
        membrane(model, x[:, 0], layer=1, neurons=(99,))


def test_psth_rates_and_embedding_by_hand():
    # 2 timesteps, 3 samples (classes 0, 1, 1), 2 neurons
    spikes = torch.tensor([[[1, 0], [0, 1], [1, 1]],
                           [[1, 1], [0, 0], [0, 1]]], dtype=torch.uint8)
    act = Activity((spikes,), torch.tensor([0, 1, 1]), torch.tensor([0, 1, 1]))
    hist = psth(act, 1, 3)
    assert torch.allclose(hist[0], torch.tensor([0.5, 1.0]))    # sample 0: 1 of 2, 2 of 2
    assert torch.allclose(hist[1], torch.tensor([0.75, 0.25]))  # samples 1, 2: (1+2)/4, (0+1)/4
    assert torch.isnan(hist[2]).all()
    assert torch.allclose(rate_map(act, 1), torch.tensor([[2 / 3, 1 / 3], [2 / 3, 2 / 3]]))
    emb = embed_neurons(act, 1, 3)
    # neuron 0 counts (2, 0, 1): class means 2 vs 0.5 -> prefers 0 with share 2/2.5
    # neuron 1 counts (1, 1, 2): class means 1 vs 1.5 -> prefers 1 with share 1.5/2.5
    assert emb.preferred.tolist() == [0, 1]
    assert np.allclose(emb.selectivity, [0.8, 0.6])
    assert emb.coords.shape == (2, 2)


def test_pca_2d_matches_scikit_learn():
    from sklearn.decomposition import PCA

    from spikeloom.explain.signals import pca_2d

    vectors = np.random.default_rng(0).random((30, 80))
    coords, ratios = pca_2d(vectors)
    pca = PCA(n_components=2).fit(vectors)
    assert np.allclose(np.abs(coords), np.abs(pca.transform(vectors)), atol=1e-8)
    assert np.allclose(ratios, pca.explained_variance_ratio_)
