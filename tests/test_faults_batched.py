"""The batched engine (K fault masks in one forward pass) gives every trial the reference
engine's accuracy, on CPU and (when present) CUDA."""

from __future__ import annotations

import pytest
import torch

from spikeloom.errors import ConfigError
from spikeloom.faults import CampaignConfig, run_campaign
from spikeloom.faults.batched import BatchedEngine
from spikeloom.faults.campaign import prepare_quantized
from spikeloom.spec import ModelConfig, TrainConfig
from spikeloom.train import fit


@pytest.fixture(scope="module")
def models(digits):
    tcfg = TrainConfig(epochs=1, seed=3, lr=1e-2)
    return {
        "snn": fit(ModelConfig(topology=(64, 24, 10), timesteps=6), tcfg, digits).checkpoint,
        "mem": fit(ModelConfig(topology=(64, 16, 12, 10), timesteps=5, readout="membrane"),
                   tcfg.replace(lr=2e-2), digits).checkpoint,
        "latency": fit(ModelConfig(topology=(64, 20, 10), timesteps=8, encoding="latency"),
                       tcfg, digits).checkpoint,
        "ann": fit(ModelConfig(topology=(64, 20, 10), arch="ann"), tcfg, digits).checkpoint,
    }


def _per_trial(result):
    return [(r.scope, r.ber, r.accuracies, r.seeds) for r in result.results]


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA GPU on this machine"))]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name, fault", [
    ("snn", "bitflip"), ("snn", "stuck-at-1"), ("snn", "dead"), ("snn", "saturated"),
    ("snn", "threshold"), ("mem", "bitflip"), ("mem", "threshold"), ("latency", "stuck-at-0"),
])
def test_batched_equals_reference_trial_by_trial(models, digits, name, fault, device):
    ckpt = models[name]
    x, y = digits.x_test[:200], digits.y_test[:200]
    runs = {}
    for engine in ("reference", "batched"):
        cc = CampaignConfig(bers=(3e-3, 0.1), trials=5, scope="both", engine=engine,
                            fault=fault, per_channel=fault == "stuck-at-1")
        model = ckpt.build().to(device)
        runs[engine] = run_campaign(model, ckpt.model_config, x, y, cc, eval_seed=1)
    ref, batched = runs["reference"], runs["batched"]
    assert ref.clean_accuracy == batched.clean_accuracy
    assert _per_trial(ref) == _per_trial(batched)
    assert min(min(r.accuracies) for r in ref.results) < ref.clean_accuracy  # faults did bite


def test_groups_and_sample_passes_do_not_change_results(models, digits, monkeypatch):
    """One trial per pass, several samples passes per chunk: the same accuracies."""
    from spikeloom.faults import batched as module
    from spikeloom.faults.injection import sample_trial_faults
    from spikeloom.faults.trial import trial_seed

    ckpt = models["snn"]
    cc = CampaignConfig(bits=8)
    qw, qmodel, _ = prepare_quantized(ckpt.build(), cc)
    x, y = digits.x_test[:300], digits.y_test[:300]
    trials = [sample_trial_faults(qw.q, 8, "bitflip", 0.02, trial_seed(5, 0.02, k), (1, 2))
              for k in range(7)]
    wide = BatchedEngine(qmodel, ckpt.model_config, qw, x, y, eval_seed=2, batch=4)
    monkeypatch.setattr(module, "ELEMENT_BUDGET", 6 * 24 * 40)  # 40 samples per pass
    narrow = BatchedEngine(qmodel, ckpt.model_config, qw, x, y, eval_seed=2, batch=1)
    assert wide.accuracies(trials) == narrow.accuracies(trials)
    assert [narrow.accuracy(t) for t in trials[:2]] == narrow.accuracies(trials[:2])


def test_batched_refuses_models_it_cannot_match_exactly(models, digits):
    ckpt = models["ann"]
    cc = CampaignConfig(bers=(0.01,), trials=2, engine="batched")
    with pytest.raises(ConfigError, match="engine .batched. cannot run this model: it needs an SNN fed spikes"):
        run_campaign(ckpt.build(), ckpt.model_config, digits.x_test[:50], digits.y_test[:50], cc)
