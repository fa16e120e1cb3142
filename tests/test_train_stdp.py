"""STDP: one step-by-step update computed by hand, labelling and vote, the exported checkpoint."""

from __future__ import annotations

import math

import pytest
import torch

from spikeloom.cli.main import main
from spikeloom.errors import ConfigError
from spikeloom.spec import ModelConfig, TrainConfig
from spikeloom.train.stdp import (
    StdpConfig,
    StdpState,
    assign_labels,
    check_stdp_topology,
    export,
    normalise,
    stdp_step,
    vote,
)


def test_three_steps_match_hand_computation():
    """beta 0.5, threshold 1, theta_plus 0.5, tau 1 (decay e^-1), eta_post 0.1, eta_pre 0.01,
    x_tar 0.2, inhibition 0.25, W = [[0.6, 0.2], [0.3, 0.5]], input spikes [1,0], [1,1], [0,1].

    t1: x_pre = [1, 0]; v = [0.6, 0.3]; margins [-0.4, -0.7]: no spike, no change.
    t2: x_pre = [1, 1]; v = 0.5 v + [0.8, 0.8] = [1.1, 0.95]; margins [0.1, -0.05]: neuron 0
        fires; v - 0.25 = [0.85, 0.7], winner reset -> [0, 0.7]; x_post = [1, 0];
        W[0] += 0.1 ([1, 1] - 0.2) - 0.01 [1, 1] -> [0.67, 0.27]; theta = [0.5, 0].
    t3: x_pre = [e^-1, 1]; v = 0.5 [0, 0.7] + [0.27, 0.5] = [0.27, 0.85]; thresholds
        [1.5, 1]: no spike; x_post = [e^-1, 0]; W[0, 1] -= 0.01 e^-1 (depression on the pre
        spike of input 1) -> 0.27 - 0.01/e.
    """
    cfg = ModelConfig(topology=(2, 2, 2), beta=0.5)
    sc = StdpConfig(threshold=1.0, theta_plus=0.5, tau_pre=1.0, tau_post=1.0, eta_post=0.1,
                    eta_pre=0.01, x_tar=0.2, inhibition=0.25)
    st = StdpState(torch.tensor([[0.6, 0.2], [0.3, 0.5]], dtype=torch.float64),
                   torch.zeros(2, dtype=torch.float64))
    v, x_post = torch.zeros(1, 2, dtype=torch.float64), torch.zeros(1, 2, dtype=torch.float64)
    x_pre = torch.zeros(1, 2, dtype=torch.float64)
    spikes = [stdp_step(torch.tensor([s], dtype=torch.float64), v, x_pre, x_post, st, cfg, sc)
              for s in ([1.0, 0.0], [1.0, 1.0], [0.0, 1.0])]
    assert [s.tolist() for s in spikes] == [[[0, 0]], [[1, 0]], [[0, 0]]]
    e = math.exp(-1.0)
    assert st.weight.flatten().tolist() == pytest.approx([0.67, 0.27 - 0.01 * e, 0.3, 0.5], abs=1e-12)
    assert st.theta.tolist() == pytest.approx([0.5, 0.0])
    assert v.flatten().tolist() == pytest.approx([0.27, 0.85])
    assert x_pre.flatten().tolist() == pytest.approx([e, 1.0])
    assert x_post.flatten().tolist() == pytest.approx([e, 0.0])


def test_normalise_labels_and_vote():
    w = torch.tensor([[1.0, 3.0], [2.0, 2.0]])
    normalise(w, 2.0)
    assert w.tolist() == [[0.5, 1.5], [1.0, 1.0]]
    counts = torch.tensor([[5.0, 0.0, 1.0], [4.0, 1.0, 0.0], [0.0, 3.0, 6.0], [1.0, 2.0, 0.0]])
    y = torch.tensor([0, 0, 1, 1])
    # class means: class 0 -> [4.5, 0.5, 0.5], class 1 -> [0.5, 2.5, 3.0]
    labels = assign_labels(counts, y, 2)
    assert labels.tolist() == [0, 1, 1]
    # vote: class 0 = count of neuron 0; class 1 = mean of neurons 1 and 2
    assert vote(torch.tensor([[2.0, 1.0, 2.0], [2.0, 4.0, 1.0]]), labels, 2).tolist() == [0, 1]


def test_export_folds_thresholds_and_vote():
    cfg = ModelConfig(topology=(3, 2, 2), timesteps=4)
    sc = StdpConfig(threshold=2.0)
    st = StdpState(torch.tensor([[1.0, 2.0, 3.0], [4.0, 0.0, 2.0]]), torch.tensor([2.0, 0.0]))
    ck = export(st, cfg, sc, TrainConfig(epochs=1), torch.tensor([1, 1]))
    assert ck.model_config.threshold == 1.0 and ck.model_config.reset == "zero"
    assert ck.state_dict["fcs.0.weight"].tolist() == [[0.25, 0.5, 0.75], [2.0, 0.0, 1.0]]
    assert ck.state_dict["fcs.1.weight"].tolist() == [[0.0, 0.0], [0.5, 0.5]]


def test_bad_topology_and_settings(tmp_path, capsys):
    with pytest.raises(ConfigError, match="one excitatory"):
        check_stdp_topology(ModelConfig(topology=(64, 32, 16, 10)))
    rc = main(["train", "--method", "stdp", "--topology", "64-32-16-10", "--out", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "D-N-C" in err
    rc = main(["train", "--method", "stdp", "--tau-pre", "0", "--out", str(tmp_path), "--quiet"])
    assert rc == 2 and "tau-pre" in capsys.readouterr().err
    assert not (tmp_path / "model.pt").exists()


def test_cli_stdp_learns_digits_and_eval_agrees(tmp_path):
    import json

    torch.set_num_threads(1)
    out = tmp_path / "s"
    rc = main(["train", "--method", "stdp", "--topology", "64-50-10", "--timesteps", "20",
               "--epochs", "1", "--out", str(out), "--quiet"])
    assert rc == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["wta_test_accuracy"] > 0.5 and s["test_accuracy"] > 0.5  # chance is 0.1
    assert main(["eval", "--model", str(out / "model.pt"), "--out", str(tmp_path / "e"), "--quiet"]) == 0
    assert json.loads((tmp_path / "e" / "summary.json").read_text())["test_accuracy"] == pytest.approx(
        s["test_accuracy"])
