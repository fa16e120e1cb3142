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
    from spikeloom.data import load_dataset
    from spikeloom.measure.graph import PruningPolicy, graph_from_checkpoint, spike_profile
    from spikeloom.snn.checkpoint import load_checkpoint

    path = _checkpoint(tmp_path)
    g = graph_from_checkpoint(path.parent)  # the folder works too; idle inputs are left out
    assert len(g.nodes) == 32 + 12 + 10 and "L0:0" not in g.nodes
    assert len(g.edges) == 32 * 12 + 12 * 10
    assert len(g.fan_out["L0:40"]) == 12
    kept = graph_from_checkpoint(path, PruningPolicy(drop_idle=False))
    assert len(kept.nodes) == 64 + 12 + 10 and not kept.fan_out["L0:0"]
    capped = graph_from_checkpoint(path, PruningPolicy(fan_in=5))
    assert max(len(v) for v in capped.fan_in.values()) == 5
    ckpt = load_checkpoint(path)
    x = load_dataset("digits").x_train[:8]
    prof = spike_profile(ckpt.build(), ckpt.model_config, x, seed=0)
    assert set(prof) >= set(g.nodes)
    assert all(v >= 0 for v in prof.values()) and sum(prof.values()) > 0
    assert spike_profile(ckpt.build(), ckpt.model_config, x, seed=0) == prof
    # layer sums of the profile are the protocol's spike counts per sample
    from spikeloom.snn.inference import spike_counts

    counts = spike_counts(ckpt.build(), ckpt.model_config, x, seed=0)
    assert sum(v for k, v in prof.items() if k.startswith("L1:")) == pytest.approx(float(counts[1].sum()) / 8)


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
