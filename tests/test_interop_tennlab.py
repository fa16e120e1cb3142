"""TENNLab export: the file reads back through the mapper's TENNLab importer as exactly the
graph `map --model` maps, with the model's weights and thresholds as values."""

from __future__ import annotations

import json

import torch

from spikeloom.cli.main import main
from spikeloom.hw.importers import load_tennlab
from spikeloom.measure.graph import PruningPolicy, graph_from_checkpoint
from spikeloom.snn import Checkpoint, build_model, save_checkpoint
from spikeloom.spec import ModelConfig, TrainConfig


def test_tennlab_export_round_trips_through_the_reader(tmp_path):
    cfg = ModelConfig(topology=(6, 5, 3), threshold=0.7, beta=0.9, reset="zero")
    torch.manual_seed(0)
    model = build_model(cfg)
    with torch.no_grad():
        model.fcs[0].weight[:, 0] = 0.0  # input 0 has no synapses
        model.fcs[1].weight[1, 2] = 0.0
        model.lifs[1].threshold.fill_(1.25)
    (tmp_path / "m").mkdir()
    save_checkpoint(tmp_path / "m" / "model.pt", Checkpoint(cfg, TrainConfig(epochs=0),
                                                             model.state_dict()))
    assert main(["export", "--model", str(tmp_path / "m"), "--format", "tennlab",
                 "--prune-threshold", "0.1", "--out", str(tmp_path / "t"), "--quiet"]) == 0
    path = tmp_path / "t" / "network.json"
    data = json.loads(path.read_text())
    names = data["Associated_Data"]["spikeloom"]["node_names"]
    back = load_tennlab(path)
    want = graph_from_checkpoint(tmp_path / "m", PruningPolicy(threshold=0.1))
    assert "L0:0" not in want.nodes  # the idle input is left out, as `map --model` does
    relabel = {str(k): n for k, n in enumerate(names)}
    assert tuple(relabel[n] for n in back.nodes) == want.nodes
    assert {(relabel[a], relabel[b]) for a, b in back.edges} == set(want.edges)
    assert tuple(relabel[n] for n in back.inputs) == want.inputs
    assert tuple(relabel[n] for n in back.outputs) == want.outputs
    weights = [model.fcs[0].weight.detach(), model.fcs[1].weight.detach()]
    assert len(data["Edges"]) == sum(int((w.abs() > 0.1).sum()) for w in weights)
    for edge in data["Edges"]:
        src, dst = names[edge["from"]], names[edge["to"]]
        layer = int(dst[1:].split(":")[0])
        w = float(weights[layer - 1][int(dst.split(":")[1]), int(src.split(":")[1])])
        assert edge["values"] == [w, 1.0]
    theta = {names[n["id"]]: n["values"][0] for n in data["Nodes"]}
    assert theta["L0:3"] == 0.0 and "L0:0" not in theta and theta["L1:4"] == float(torch.tensor(0.7)) and theta["L2:0"] == 1.25
    assert json.loads((tmp_path / "t" / "summary.json").read_text())["synapses"] == len(data["Edges"])
