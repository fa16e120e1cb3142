"""ANN-to-SNN conversion: lambdas and weights against numpy, spike rates against ANN activations
within a derived bound, and bad inputs.

The bound (IF neuron, subtractive reset, threshold theta, V[t] = U[t] - theta S[t] the
potential after the reset): V[t] = V[t-1] + I[t] - theta S[t], V[0] = 0, so after T steps

    N theta = sum_t I[t] - V[T].

A spike at t leaves V[t] > 0 and no spike leaves V[t] = V[t-1] + I[t] <= theta, hence
V[t] >= min(0, V[t-1] + I[t]) and V[t] <= max(theta, V[t-1] + I[t] - theta); by induction

    -D <= V[T] <= theta + E,   D = max(0, -min_s sum_{t>=s} I[t]),
                               E = max(0,  max_s sum_{t>=s} (I[t] - theta)),

    rate = N / T  in  [(Ibar - (theta + E)/T)/theta,  (Ibar + D/T)/theta]  and in [0, 1],

Ibar the mean input current. Layer 1 with direct input has I constant, E = 0 when z <= theta
and D = T max(0, -z), so rate lies in [clip(z/theta) - 1/T, clip(z/theta)]: within 1/T of the
normalised ANN activation. Deeper, Ibar = W' r_{l-1} + b' differs from the ANN's
W' a_{l-1}/lambda + b' by at most ||W'||_inf eps_{l-1} (eps_{l-1}: the previous layer's max
rate error): the error accumulates across layers. D and E are computed here by numpy from the
recorded input spikes of each layer.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikeloom.cli.main import main
from spikeloom.errors import CheckpointError
from spikeloom.snn.activity import record_spikes
from spikeloom.snn.checkpoint import Checkpoint, save_checkpoint
from spikeloom.snn.models import build_model
from spikeloom.spec import ModelConfig, TrainConfig
from spikeloom.train.convert import ConvertConfig, build_snn, check_convertible, layer_scales

TOP = (12, 24, 16, 6)


def _ann(seed: int = 3, bias: bool = True) -> Checkpoint:
    torch.manual_seed(seed)
    cfg = ModelConfig(arch="ann", topology=TOP, bias=bias)
    model = build_model(cfg)
    return Checkpoint(cfg, TrainConfig(epochs=0), {k: v.clone() for k, v in model.state_dict().items()})


def _numpy_reference(ann: Checkpoint, x: np.ndarray, norm: str, pct: float = 99.9):
    """lambdas, scaled weights/biases and normalised clipped activations, by numpy alone."""
    ws = [ann.state_dict[f"fcs.{i}.weight"].double().numpy() for i in range(len(TOP) - 1)]
    bs = [ann.state_dict[f"fcs.{i}.bias"].double().numpy() for i in range(len(TOP) - 1)]
    lams, h = [], x.astype(np.float64)
    for i, (w, b) in enumerate(zip(ws, bs)):
        h = h @ w.T + b
        if i < len(ws) - 1:
            h = np.maximum(h, 0)
        pos = np.maximum(h, 0).ravel()
        lams.append(pos.max() if norm == "max" else np.percentile(pos, pct))
    prev = [1.0, *lams[:-1]]
    w2 = [w * p / lam for w, p, lam in zip(ws, prev, lams)]
    b2 = [b / lam for b, lam in zip(bs, lams)]
    return lams, w2, b2


@pytest.mark.parametrize("norm", ["max", "percentile"])
def test_lambdas_and_weights_match_numpy(norm):
    ann = _ann()
    x = torch.rand(200, TOP[0], generator=torch.Generator().manual_seed(1))
    cc = ConvertConfig(norm=norm, percentile=99.0)
    scales = layer_scales(ann.build(), x, cc)
    lams, w2, b2 = _numpy_reference(ann, x.numpy(), norm, 99.0)
    assert np.allclose(scales, lams, rtol=1e-6)
    _, state = build_snn(ann, ModelConfig(threshold=1.0, beta=1.0, encoding="direct"), scales)
    for i in range(len(TOP) - 1):
        assert np.allclose(state[f"fcs.{i}.weight"].double().numpy(), w2[i], rtol=1e-5, atol=1e-7)
        assert np.allclose(state[f"fcs.{i}.bias"].double().numpy(), b2[i], rtol=1e-5, atol=1e-7)


def test_rates_approach_ann_activations_within_bound():
    ann = _ann()
    x = torch.rand(64, TOP[0], generator=torch.Generator().manual_seed(2))
    scales = layer_scales(ann.build(), x, ConvertConfig(norm="max"))
    lams, w2, b2 = _numpy_reference(ann, x.numpy(), "max")
    # normalised, clipped ANN activations a_l / lambda_l (numpy, independent of spikeloom)
    targets, h = [], x.numpy().astype(np.float64)
    for i in range(len(w2)):
        h = np.clip(h @ w2[i].T + b2[i], 0.0, 1.0)  # rate-domain ANN: same as relu(a)/lambda
        targets.append(h)
    worst_last = {}
    for steps in (10, 40, 160, 640):
        cfg, state = build_snn(ann, ModelConfig(threshold=1.0, beta=1.0, encoding="direct",
                                                readout="count", timesteps=steps), scales)
        model = build_model(cfg)
        model.load_state_dict(state)
        trains = record_spikes(model.eval(), x.unsqueeze(0).expand(steps, -1, -1).contiguous())
        eps_prev = 0.0
        for layer in range(len(w2)):
            spikes_in = trains[layer].double().numpy()  # [T, B, D_in]
            rate = trains[layer + 1].double().numpy().mean(0)
            current = spikes_in @ w2[layer].T + b2[layer]  # I[t], [T, B, N]
            suffix = np.flip(np.cumsum(np.flip(current, 0), 0), 0)
            d = np.maximum(0.0, -suffix.min(0))
            excess = np.flip(np.cumsum(np.flip(current - 1.0, 0), 0), 0)
            e = np.maximum(0.0, excess.max(0))
            norm_inf = np.abs(w2[layer]).sum(1).max()
            z = targets[layer] if layer == 0 else None
            if layer == 0:  # constant current: within 1/T below the target
                assert np.all(rate <= z + 1e-9) and np.all(rate >= z - 1.0 / steps - 1e-9)
            pre = (x.numpy() if layer == 0 else targets[layer - 1]) @ w2[layer].T + b2[layer]
            lo = np.clip(pre - norm_inf * eps_prev - (1.0 + e) / steps, 0, 1)
            hi = np.clip(pre + norm_inf * eps_prev + d / steps, 0, 1)
            assert np.all(rate >= lo - 1e-9) and np.all(rate <= hi + 1e-9), (steps, layer)
            eps_prev = float(np.abs(rate - targets[layer]).max())
        worst_last[steps] = eps_prev
    # the error at the last layer shrinks as T grows
    assert worst_last[640] < worst_last[40] < worst_last[10]
    assert worst_last[640] < 0.1


def test_bad_anns_are_refused(tmp_path, capsys):
    snn = Checkpoint(ModelConfig(topology=TOP), TrainConfig(epochs=0),
                     build_model(ModelConfig(topology=TOP)).state_dict())
    with pytest.raises(CheckpointError, match="ANN checkpoint"):
        check_convertible(snn)
    ann = _ann()
    odd = Checkpoint(ann.model_config, ann.train_config,
                     {**ann.state_dict, "convs.0.weight": torch.zeros(3, 3, 3, 3)})
    with pytest.raises(CheckpointError, match="cannot be converted"):
        check_convertible(odd)
    path = save_checkpoint(tmp_path / "snn.pt", snn)
    rc = main(["train", "--method", "convert", "--ann", str(path), "--out", str(tmp_path / "o"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert not (tmp_path / "o" / "model.pt").exists()
    rc = main(["train", "--method", "convert", "--encoding", "latency", "--out", str(tmp_path / "o"), "--quiet"])
    assert rc == 2 and "encoding" in capsys.readouterr().err


def test_cli_convert_then_eval(tmp_path):
    out = tmp_path / "c"
    rc = main(["train", "--method", "convert", "--topology", "64-16-10", "--epochs", "4", "--train-subset", "500", "--lr", "0.01",
               "--readout", "membrane", "--encoding", "direct", "--curve", "2,8", "--out", str(out), "--quiet"])
    assert rc == 0
    import json

    summary = json.loads((out / "summary.json").read_text())
    assert [r["timesteps"] for r in summary["accuracy_vs_T"]] == [2, 8]
    assert (out / "accuracy_vs_T.png").stat().st_size > 1000
    assert summary["ann_test_accuracy"] > 0.8 and summary["test_accuracy"] > 0.7
    assert main(["eval", "--model", str(out / "model.pt"), "--out", str(tmp_path / "e"), "--quiet"]) == 0
    evaluated = json.loads((tmp_path / "e" / "summary.json").read_text())
    assert evaluated["test_accuracy"] == pytest.approx(summary["test_accuracy"])
