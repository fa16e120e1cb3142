"""Campaigns: fast engine == reference engine trial by trial, paired ANN/SNN masks, resume,
replay, target-confidence trial counts."""

from __future__ import annotations

import json

import pytest
import torch

from spikeloom.errors import ConfigError
from spikeloom.faults import (
    CampaignConfig,
    fault_population,
    replay_trial,
    run_campaign,
    trial_faults,
)
from spikeloom.faults.store import TrialStore
from spikeloom.quant import quantize_model
from spikeloom.spec import ModelConfig, TrainConfig
from spikeloom.train import fit

SNN = ModelConfig(topology=(64, 24, 10), timesteps=6)


@pytest.fixture(scope="module")
def models(digits):
    """A small trained SNN and the ANN of the same topology (and a membrane-readout SNN)."""
    tcfg = TrainConfig(epochs=1, seed=3, lr=1e-2)  # one quick epoch: well above chance
    snn = fit(SNN, tcfg, digits).checkpoint
    ann = fit(SNN.replace(arch="ann"), tcfg, digits).checkpoint
    mem = fit(ModelConfig(topology=(64, 16, 12, 10), timesteps=5, readout="membrane"),
              tcfg.replace(lr=2e-2), digits).checkpoint
    return {"snn": snn, "ann": ann, "mem": mem}


def _accuracies(result):
    return [(r.scope, r.ber, r.accuracies, r.seeds) for r in result.results]


@pytest.mark.parametrize("name, fault", [
    ("snn", "bitflip"), ("snn", "stuck-at-1"), ("snn", "dead"), ("snn", "saturated"),
    ("snn", "threshold"), ("mem", "bitflip"), ("mem", "threshold"), ("ann", "bitflip"),
    ("ann", "dead"),
])
def test_fast_engine_equals_reference_trial_by_trial(models, digits, name, fault):
    ckpt = models[name]
    x, y = digits.x_test[:150], digits.y_test[:150]
    runs = {}
    for engine in ("reference", "fast"):
        cc = CampaignConfig(bers=(3e-3, 0.1), trials=2, scope="both", engine=engine,
                            fault=fault, per_channel=fault == "stuck-at-1")
        runs[engine] = run_campaign(ckpt.build(), ckpt.model_config, x, y, cc, eval_seed=1)
    ref, fast = runs["reference"], runs["fast"]
    assert ref.clean_accuracy == fast.clean_accuracy
    assert _accuracies(ref) == _accuracies(fast)
    assert min(min(r.accuracies) for r in ref.results) < ref.clean_accuracy  # faults did bite


def test_fast_engine_expands_weight_changes_in_bounded_slices(models, digits, monkeypatch):
    """At high BER most synapses change; the delta engine then expands (pair, synapse) rows
    a slice at a time. Tiny slices must give the reference's accuracies exactly."""
    import spikeloom.faults.delta as delta

    monkeypatch.setattr(delta, "PAIR_BUDGET", 7)
    ckpt = models["snn"]
    x, y = digits.x_test[:120], digits.y_test[:120]
    runs = [run_campaign(ckpt.build(), ckpt.model_config, x, y,
                         CampaignConfig(bers=(0.05,), trials=2, scope="model", engine=engine))
            for engine in ("reference", "fast")]
    assert _accuracies(runs[0]) == _accuracies(runs[1])


def test_ann_and_snn_get_the_same_masks(models, digits):
    snn, ann = models["snn"], models["ann"]
    cc = CampaignConfig(bers=(0.05,), trials=2, scope="both")
    for scope, seed in [("model", 11), ("layer:2", 12)]:
        a = trial_faults(quantize_model(snn.build()), snn.model_config, cc, scope, 0.05, seed)
        b = trial_faults(quantize_model(ann.build()), ann.model_config, cc, scope, 0.05, seed)
        assert [f.layer for f in a] == [f.layer for f in b] and a
        qa, qb = quantize_model(snn.build()), quantize_model(ann.build())
        for fa, fb in zip(a, b):  # the same bits flipped: equal XOR of faulty and clean codes
            i = fa.layer - 1
            assert torch.equal((fa.q ^ qa.q[i]) & 0xFF, (fb.q ^ qb.q[i]) & 0xFF)
    r_snn = run_campaign(snn.build(), snn.model_config, digits.x_test[:50], digits.y_test[:50], cc)
    r_ann = run_campaign(ann.build(), ann.model_config, digits.x_test[:50], digits.y_test[:50], cc)
    assert [r.seeds for r in r_snn.results] == [r.seeds for r in r_ann.results]
    # model-wise faults in layer i are the layer-wise faults of layer i (same trial seed)
    q = quantize_model(snn.build())
    whole = trial_faults(q, snn.model_config, cc, "model", 0.05, 5)
    layer2 = trial_faults(q, snn.model_config, cc, "layer:2", 0.05, 5)
    assert torch.equal(whole[-1].q, layer2[0].q)


def test_statistics_and_replay(models, digits):
    ckpt = models["snn"]
    x, y = digits.x_test[:120], digits.y_test[:120]
    cc = CampaignConfig(bers=(0.02,), trials=4, scope="model")
    res = run_campaign(ckpt.build(), ckpt.model_config, x, y, cc)
    r = res.result("model", 0.02)
    accs = torch.tensor(r.accuracies, dtype=torch.float64)
    assert r.mean_accuracy == pytest.approx(float(accs.mean()))
    assert r.std == pytest.approx(float(accs.std()))
    assert r.accuracy_drop == pytest.approx(res.clean_accuracy - r.mean_accuracy)
    assert r.reliability_pct == pytest.approx(100 * r.mean_accuracy / res.clean_accuracy)
    assert r.ci95[0] < r.mean_accuracy < r.ci95[1]
    assert list(res.to_dict()) == ["clean_accuracy", "engine", "fault_seed", "results"]
    assert res.engine in ("compiled", "delta") and res.to_dict()["fault_seed"] == cc.seed
    assert list(res.to_dict()["results"][0]) == ["scope", "ber", "trials", "mean_accuracy",
                                                 "accuracy_drop", "reliability_pct", "std", "ci95",
                                                 "accuracies"]
    assert res.to_dict()["results"][0]["accuracies"] == list(r.accuracies)
    assert res.float_accuracy is not None
    again = replay_trial(ckpt.build(), ckpt.model_config, x, y, cc, "model", 0.02, r.seeds[2])
    assert again == r.accuracies[2]


def test_resume_after_interruption_does_not_redo_trials(models, digits, tmp_path, monkeypatch):
    ckpt = models["snn"]
    x, y = digits.x_test[:80], digits.y_test[:80]
    cc = CampaignConfig(bers=(0.01, 0.05), trials=3, scope="both", engine="reference")
    store = tmp_path / "trials.jsonl"
    original = TrialStore.add
    calls = {"n": 0}

    def dying_add(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(TrialStore, "add", dying_add)
    with pytest.raises(KeyboardInterrupt):
        run_campaign(ckpt.build(), ckpt.model_config, x, y, cc, store_path=store)
    monkeypatch.setattr(TrialStore, "add", original)
    with store.open("a") as fh:
        fh.write('{"scope": "model", "ber"')  # a torn line from a kill mid-write
    lines = store.read_text().splitlines()
    assert len(lines) == 1 + 4 + 1

    done = []
    monkeypatch.setattr(TrialStore, "add",
                        lambda self, *a, **k: (done.append(a), original(self, *a, **k))[1])
    resumed = run_campaign(ckpt.build(), ckpt.model_config, x, y, cc, store_path=store)
    assert len(done) == 2 * 3 * 3 - 4  # only the missing trials ran
    fresh = run_campaign(ckpt.build(), ckpt.model_config, x, y, cc)
    assert _accuracies(resumed) == _accuracies(fresh)
    assert all(json.loads(line) for line in store.read_text().splitlines())
    with pytest.raises(ConfigError, match="different campaign"):
        run_campaign(ckpt.build(), ckpt.model_config, x, y, cc.replace(bits=6), store_path=store)


def test_confidence_mode_uses_leveugle_per_scope(models):
    cfg = models["snn"].model_config
    cc = CampaignConfig(scope="both", confidence=0.99, margin=0.05, fault="dead")
    assert fault_population(cfg, cc, (1, 2)) == 34
    from spikeloom.faults.campaign import trials_for

    # N=24 neurons, e=0.05, t=2.5758: 24 / (1 + 0.0025 * 23 / (6.6349 * 0.25)) = 23.2 -> 24
    assert trials_for(cfg, cc, (1,)) == 24
    # N = (64*24 + 24*10) * 8 = 14208 bits, base = 2.5758^2 / 4 / 1e-4 = 16587.2:
    # 14208 / (1 + 14207 / 16587.2) = 7653.1 -> 7654
    assert trials_for(cfg, CampaignConfig(confidence=0.99, margin=0.01), (1, 2)) == 7654


@pytest.mark.parametrize("kwargs, needle", [
    ({"bers": (1.5,)}, "bit error rate must be in [0, 1]"),
    ({"bers": (-1e-3,)}, "bit error rate must be in [0, 1]"),
    ({"bits": 1}, "bit width"),
    ({"scope": "chip"}, "unknown scope"),
    ({"fault": "melt"}, "unknown fault model"),
    ({"trials": 0}, "trials must be a positive integer"),
])
def test_bad_campaign_configs(kwargs, needle):
    with pytest.raises(ConfigError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        CampaignConfig(**kwargs)


def test_bad_layer_and_fault_for_arch(models, digits):
    snn, ann = models["snn"], models["ann"]
    x, y = digits.x_test[:20], digits.y_test[:20]
    with pytest.raises(ConfigError, match="layer index 3 does not exist"):
        run_campaign(snn.build(), snn.model_config, x, y, CampaignConfig(scope="layer", layers=(3,)))
    with pytest.raises(ConfigError, match="need an SNN"):
        run_campaign(ann.build(), ann.model_config, x, y, CampaignConfig(fault="threshold"))
