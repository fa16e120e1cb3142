"""Optional cosine learning-rate schedule: values, default unchanged, exact resume, CLI flag."""

from __future__ import annotations

import json
import math
from unittest import mock

import pytest
import torch

from spikeloom.errors import ConfigError
from spikeloom.snn import load_checkpoint
from spikeloom.spec import ModelConfig, TrainConfig
from spikeloom.train import fit
from spikeloom.train.loop import learning_rate


def test_schedule_values_by_hand():
    const = TrainConfig(epochs=4, lr=0.01)
    assert [learning_rate(const, e) for e in range(4)] == [0.01] * 4
    cos = TrainConfig(epochs=4, lr=0.01, lr_schedule="cosine")
    expected = [0.01, 0.01 * (1 + math.cos(math.pi / 4)) / 2, 0.005, 0.01 * (1 + math.cos(3 * math.pi / 4)) / 2]
    assert [learning_rate(cos, e) for e in range(4)] == pytest.approx(expected)


def test_unknown_schedule_is_a_config_error():
    with pytest.raises(ConfigError, match="schedule"):
        TrainConfig(lr_schedule="linear")


def test_old_train_configs_default_to_constant():
    old = {k: v for k, v in TrainConfig().to_dict().items() if k != "lr_schedule"}
    assert TrainConfig.from_dict(old).lr_schedule == "constant"


def test_cosine_changes_training_and_resumes_exactly(digits, tmp_path):
    cfg = ModelConfig(topology=(64, 16, 10), timesteps=5)
    tcfg = TrainConfig(epochs=3, seed=2, lr_schedule="cosine", train_subset=320)
    full = fit(cfg, tcfg, digits)
    constant = fit(cfg, tcfg.replace(lr_schedule="constant"), digits)
    assert not torch.equal(full.checkpoint.state_dict["fcs.0.weight"],
                           constant.checkpoint.state_dict["fcs.0.weight"])
    assert fit(cfg, tcfg, digits).checkpoint.state_dict["fcs.0.weight"].equal(
        full.checkpoint.state_dict["fcs.0.weight"])  # seeded: same numbers again

    path = tmp_path / "model.pt"
    real_step = torch.optim.Adam.step
    steps = iter(range(10**9))

    def step_until_third_epoch(opt, *args, **kwargs):  # 10 batches of 32 per epoch
        if next(steps) == 10 * 2 + 2:
            raise KeyboardInterrupt
        return real_step(opt, *args, **kwargs)

    with mock.patch.object(torch.optim.Adam, "step", step_until_third_epoch), \
            pytest.raises(KeyboardInterrupt):
        fit(cfg, tcfg, digits, path)
    saved = load_checkpoint(path)
    resumed = fit(cfg, tcfg, digits, path)
    # killed in epoch 3: epoch 3 reruns with the cosine rate of epoch index 2, as uninterrupted
    assert (saved.epoch, resumed.resumed_from_epoch) == (2, 2)
    assert all(torch.equal(v, resumed.checkpoint.state_dict[k])
               for k, v in full.checkpoint.state_dict.items())


def test_cli_flag_reaches_summary(tmp_path):
    from spikeloom.cli.main import main

    out = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--timesteps", "3", "--train-subset", "64",
                 "--lr-schedule", "cosine", "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["train_config"]["lr_schedule"] == "cosine"
