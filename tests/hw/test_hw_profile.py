from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


def _checkpoint(tmp_path):
    from spikeloom.snn.checkpoint import Checkpoint, save_checkpoint
    from spikeloom.snn.models import build_model
    from spikeloom.spec import ModelConfig, TrainConfig

    cfg = ModelConfig(topology=(64, 12, 10), timesteps=5, threshold=0.5)
    torch.manual_seed(0)
    model = build_model(cfg)
    with torch.no_grad():
        model.fcs[0].weight[:, :32] = 0.0  # half the inputs unconnected: pruned
    path = tmp_path / "run" / "model.pt"
    path.parent.mkdir()
    save_checkpoint(path, Checkpoint(cfg, TrainConfig(), dict(model.state_dict())))
    return path


def test_graph_and_profile_from_checkpoint(tmp_path):
    from spikeloom.hw_profile import graph_from_checkpoint, spike_profile

    path = _checkpoint(tmp_path)
    g = graph_from_checkpoint(path.parent)  # the folder works too
    assert len(g.nodes) == 64 + 12 + 10
    assert len(g.edges) == 32 * 12 + 12 * 10
    assert not g.fan_out["L0:0"] and len(g.fan_out["L0:40"]) == 12
    prof = spike_profile(path, "digits", n_samples=8, seed=0)
    assert set(prof) == set(g.nodes) or set(prof) <= set(g.nodes)
    assert all(v >= 0 for v in prof.values()) and sum(prof.values()) > 0
    assert spike_profile(path, "digits", n_samples=8, seed=0) == prof


def test_map_command_with_model(tmp_path):
    import json

    from spikeloom.cli.main import main

    path = _checkpoint(tmp_path)
    out = tmp_path / "map"
    rc = main(["map", "--model", str(path), "--crossbars", "table2", "--objective", "area-then-packets",
               "--external-inputs", "--time-limit", "3", "--quiet", "--no-figure", "--out", str(out)])
    s = json.loads((out / "summary.json").read_text())
    assert rc == 0 and s["valid"] and s["packets"] is not None
    m = json.loads((out / "mapping.json").read_text())
    assert len(m["assignment"]) == 22  # inputs stay off the crossbars
