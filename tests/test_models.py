"""ANN/SNN models, weight transfer, recording and checkpoints."""

from __future__ import annotations

import pytest
import torch

from spikeloom.errors import CheckpointError, ConfigError
from spikeloom.snn import (
    Checkpoint,
    build_model,
    lif_reference,
    load_checkpoint,
    record_spikes,
    save_checkpoint,
    transfer_weights,
)
from spikeloom.snn.neuron import LIFParameters
from spikeloom.spec import ModelConfig, TrainConfig, parse_topology


def test_topology_parsing():
    assert parse_topology("784-128-64-10") == (784, 128, 64, 10)
    for bad in ("784", "784-x-10", "784--10", "0-10", ""):
        with pytest.raises(ConfigError, match="topology"):
            parse_topology(bad)


def test_snn_forward_equals_layer_by_layer_reference():
    cfg = ModelConfig(topology=(6, 5, 3), timesteps=8, threshold=0.4, beta=0.8)
    torch.manual_seed(0)
    snn = build_model(cfg)
    x = (torch.rand(8, 4, 6) < 0.5).float()
    p = LIFParameters(0.8, 0.4)
    h1, _ = lif_reference(x @ snn.fcs[0].weight.T, p)
    h2, _ = lif_reference(h1 @ snn.fcs[1].weight.T, p)
    assert torch.equal(snn(x), h2.sum(0))
    rec = record_spikes(snn, x)
    assert [r.shape for r in rec] == [(8, 4, 6), (8, 4, 5), (8, 4, 3)]
    assert torch.equal(rec[1], h1) and torch.equal(rec[0], x)


def test_membrane_readout_is_mean_leaky_integral():
    cfg = ModelConfig(topology=(3, 2), timesteps=3, beta=0.5, readout="membrane")
    snn = build_model(cfg)
    with torch.no_grad():
        snn.fcs[0].weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]))
    x = torch.tensor([[[1.0, 0, 1]], [[0, 1, 1]], [[1, 0, 0]]])
    # neuron 0 currents 1,0,1 -> U 1, 0.5, 1.25; mean 2.75/3. neuron 1 currents 1,2,0 -> 1, 2.5, 1.25
    assert snn(x).tolist() == [pytest.approx([2.75 / 3, 4.75 / 3])]


def test_ann_and_snn_share_weights():
    ann = build_model(ModelConfig(arch="ann", topology=(10, 7, 3)))
    snn = build_model(ModelConfig(arch="snn", topology=(10, 7, 3)))
    transfer_weights(ann, snn)
    for a, b in zip(ann.fcs, snn.fcs):
        assert torch.equal(a.weight, b.weight) and a.bias is None
    assert ann(torch.rand(2, 10)).shape == (2, 3)


def test_checkpoint_roundtrip_and_rejections(tmp_path):
    cfg = ModelConfig(topology=(4, 3, 2))
    model = build_model(cfg)
    path = tmp_path / "m.pt"
    save_checkpoint(path, Checkpoint(cfg, TrainConfig(), model.state_dict(), epoch=3,
                                     metrics={"test_accuracy": 0.5}))
    back = load_checkpoint(path)
    assert back.model_config == cfg and back.epoch == 3 and back.metrics["test_accuracy"] == 0.5
    assert torch.equal(back.build().fcs[0].weight, model.fcs[0].weight)
    assert not list(tmp_path.glob(".*tmp"))  # atomic write left no temp file

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"format": "spikeloom-checkpoint", "x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="not a readable"):
        load_checkpoint(tmp_path / "evil.pt")
    (tmp_path / "trunc.pt").write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "trunc.pt")
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")
