"""Training: accuracy on digits, reproducibility, resume after a kill."""

from __future__ import annotations

import pytest
import torch

from spikeloom.data.protocol import EVAL_CHUNK
from spikeloom.errors import DataError
from spikeloom.measure import evaluate, predict
from spikeloom.snn import load_checkpoint
from spikeloom.spec import ModelConfig, TrainConfig
from spikeloom.train import fit


def test_snn_and_ann_learn_digits(digits):
    snn = fit(ModelConfig(topology=(64, 32, 10), timesteps=10), TrainConfig(epochs=4), digits)
    ann = fit(ModelConfig(arch="ann", topology=(64, 32, 10)), TrainConfig(epochs=4), digits)
    assert snn.test_accuracy > 0.85 and ann.test_accuracy > 0.85
    metrics = snn.checkpoint.metrics
    assert metrics["spikes_per_sample"] == pytest.approx(sum(metrics["spikes_per_layer"][1:]))
    assert metrics["spikes_per_sample"] > 0


def test_same_seed_same_numbers(digits):
    cfg, tcfg = ModelConfig(topology=(64, 16, 10), timesteps=5), TrainConfig(epochs=1, seed=7)
    a, b = fit(cfg, tcfg, digits), fit(cfg, tcfg, digits)
    for k, v in a.checkpoint.state_dict.items():
        assert torch.equal(v, b.checkpoint.state_dict[k])
    assert a.test_accuracy == b.test_accuracy


def test_resume_after_kill_matches_uninterrupted(digits, tmp_path):
    cfg, tcfg = ModelConfig(topology=(64, 16, 10), timesteps=5), TrainConfig(epochs=3, seed=1)
    full = fit(cfg, tcfg, digits)
    path = tmp_path / "model.pt"

    calls = {"n": 0}
    original = torch.optim.Adam.step

    def dying_step(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 46 * 2 + 5:  # in the third epoch (45 batches of 32 per epoch)
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    torch.optim.Adam.step = dying_step
    try:
        with pytest.raises(KeyboardInterrupt):
            fit(cfg, tcfg, digits, path)
    finally:
        torch.optim.Adam.step = original
    assert load_checkpoint(path).epoch == 2
    resumed = fit(cfg, tcfg, digits, path)
    assert resumed.resumed_from_epoch == 2
    for k, v in full.checkpoint.state_dict.items():
        assert torch.equal(v, resumed.checkpoint.state_dict[k]), k


def test_evaluation_does_not_depend_on_chunking(digits):
    cfg = ModelConfig(topology=(64, 16, 10), timesteps=4)
    model = fit(cfg, TrainConfig(epochs=1), digits).checkpoint.build()
    x = torch.cat([digits.x_test] * 2)  # 720 samples: two chunks
    assert len(x) > EVAL_CHUNK
    full = predict(model, cfg, x, seed=3)
    assert torch.equal(full[:EVAL_CHUNK], predict(model, cfg, x[:EVAL_CHUNK], seed=3))
    assert evaluate(model, cfg, digits.x_test, digits.y_test, seed=3) == evaluate(
        model, cfg, digits.x_test, digits.y_test, seed=3)


def test_topology_must_match_dataset(digits):
    with pytest.raises(DataError, match="start the topology with 64"):
        fit(ModelConfig(topology=(784, 10)), TrainConfig(epochs=1), digits)
    with pytest.raises(DataError, match="end the topology with 10"):
        fit(ModelConfig(topology=(64, 5)), TrainConfig(epochs=1), digits)


def test_rate_initialisation_makes_every_layer_fire_at_the_target():
    """`--weight-init rate`: after calibration each layer's mean rate on the calibration batch
    (recorded independently) is the target, and each layer's weights are its default ones
    times one positive factor; without it, the deep layers of this net are silent."""
    from spikeloom.data.encoders import encode, make_generator
    from spikeloom.snn.activity import record_spikes
    from spikeloom.snn.models import build_model
    from spikeloom.spec import ModelConfig
    from spikeloom.train.init import TARGET_RATE, calibrate_rates

    cfg = ModelConfig(topology=(64, 64, 48, 32, 10), timesteps=10, threshold=1.5)
    torch.manual_seed(0)
    model = build_model(cfg)
    default = [fc.weight.detach().clone() for fc in model.fcs]
    x = encode(torch.rand(128, 64) * 0.3, "rate", 10, generator=make_generator(1))
    assert float(record_spikes(model, x)[-2].mean()) < 0.01  # silent before
    factors = calibrate_rates(model, x)
    rates = [float(s.mean()) for s in record_spikes(model, x)[1:]]
    assert rates == pytest.approx([TARGET_RATE] * 4, abs=0.01)
    for fc, w, f in zip(model.fcs, default, factors):
        assert f > 0 and torch.allclose(fc.weight, w * f)


def test_membrane_loss_reads_the_output_membrane_by_hand():
    """`membrane_logits` = mean over T of the output layer's membrane, recomputed here with
    the LIF recurrence written out (subtractive reset by theta after each spike)."""
    from spikeloom.snn.models import build_model

    cfg = ModelConfig(topology=(3, 2), timesteps=4, threshold=1.0, beta=0.5)
    model = build_model(cfg)
    with torch.no_grad():
        model.fcs[0].weight.copy_(torch.tensor([[1.0, 0.5, 0.0], [0.0, 0.0, 0.25]]))
    x = torch.tensor([[[1.0, 1.0, 1.0]], [[1.0, 0.0, 1.0]], [[0.0, 0.0, 0.0]], [[1.0, 1.0, 0.0]]])  # [T=4, B=1, 3]
    # neuron 0: I = 1.5, 1.0, 0, 1.5 -> U = 1.5 (spike), 0.75 + 1 - 1 = 0.75, 0.375, 0.1875 + 1.5 = 1.6875
    # neuron 1: I = .25, .25, 0, 0 -> U = 0.25, 0.375, 0.1875, 0.09375 (never spikes)
    expected = torch.tensor([[(1.5 + 0.75 + 0.375 + 1.6875) / 4, (0.25 + 0.375 + 0.1875 + 0.09375) / 4]])
    assert torch.allclose(model.membrane_logits(x), expected)
    assert torch.equal(model(x), torch.tensor([[2.0, 0.0]]))  # the model itself still counts spikes


def test_membrane_loss_trains_a_network_whose_output_is_silent(digits):
    """A 4-layer SNN at theta 1.5 whose deep layers start silent: trained on spike counts it
    stays at chance (no output spike, almost no gradient); trained on the output membrane
    (`loss='membrane'`) it learns, and it is still a count-readout network."""
    cfg = ModelConfig(topology=(64, 32, 32, 32, 10), timesteps=6, threshold=1.5)
    counts = fit(cfg, TrainConfig(epochs=4, lr=5e-3), digits)
    membrane = fit(cfg, TrainConfig(epochs=4, lr=5e-3, loss="membrane"), digits)
    assert counts.test_accuracy < 0.2  # measured 0.100
    assert membrane.test_accuracy > 0.6  # measured 0.725
    assert membrane.checkpoint.model_config.readout == "count"
    assert membrane.checkpoint.train_config.to_dict()["loss"] == "membrane"
    assert "loss" not in counts.checkpoint.train_config.to_dict()  # old cache keys unchanged
