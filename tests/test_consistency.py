"""One truth per figure: the architecture search, `spikeloom energy`, `spikeloom faults`,
`spikeloom map --model` and `spikeloom run` measure the same network the same way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spikeloom.cli.main import main


@pytest.fixture(scope="module")
def nas_eval(tmp_path_factory, digits):
    """One pruned, mixed-precision architecture measured at full fidelity by the NAS evaluator."""
    pytest.importorskip("ortools")
    from spikeloom.search.nas.objectives import EvalSettings, evaluate_architecture
    from spikeloom.search.nas.space import Architecture

    out = tmp_path_factory.mktemp("nas")
    arch = Architecture(hidden=(16,), timesteps=4, threshold=1.0, beta=0.9, reset="subtract",
                        surrogate="fast_sigmoid", slope=25.0, encoding="rate", bits=(4, 8),
                        sparsity=(0.5, 0.25), library="homogeneous:64x64")
    settings = EvalSettings(epochs=2, train_subset=400, fault_trials=3, ber=0.02, map_time_limit=0.5, seed=3)
    ev = evaluate_architecture(arch, digits, settings, out, ("accuracy", "energy", "reliability", "area"))
    return ev, Path(ev.checkpoint).with_name("compressed.pt"), settings


def test_nas_energy_equals_spikeloom_energy(nas_eval, tmp_path):
    ev, ckpt, settings = nas_eval
    out = tmp_path / "e"
    assert main(["energy", "--model", str(ckpt), "--split", "validation", "--synapses", "nonzero",
                 "--out", str(out), "--quiet"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["split"] == "validation" and s["seed"] == settings.seed
    assert s["energy_pj_per_sample"] == pytest.approx(ev.objectives["energy"], rel=1e-12)


def test_nas_reliability_equals_spikeloom_faults(nas_eval, tmp_path):
    ev, ckpt, settings = nas_eval
    out = tmp_path / "f"
    assert main(["faults", "--model", str(ckpt), "--split", "validation", "--ber", str(settings.ber),
                 "--trials", str(settings.fault_trials), "--scope", "model", "--out", str(out),
                 "--quiet"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["clean_accuracy"] == pytest.approx(ev.objectives["accuracy"], rel=1e-12)
    assert s["results"][0]["reliability_pct"] == pytest.approx(ev.objectives["reliability"], rel=1e-12)
    assert s["fault_seed"] == settings.seed and s["campaign"]["bits"] == 8


def test_nas_mapping_graph_equals_map_model(nas_eval, tmp_path):
    from spikeloom.measure.graph import graph_from_checkpoint, graph_from_layers
    from spikeloom.quant import build_checkpoint_model
    from spikeloom.snn.checkpoint import load_checkpoint

    _ev, ckpt, _settings = nas_eval
    model = build_checkpoint_model(load_checkpoint(ckpt))
    nas_graph = graph_from_layers([fc.q for fc in model.fcs])  # what the search mapped
    out = tmp_path / "m"
    assert main(["map", "--model", str(ckpt), "--crossbars", "homogeneous:64x64", "--external-inputs",
                 "--time-limit", "1", "--no-figure", "--out", str(out), "--quiet"]) == 0
    stats = json.loads((out / "summary.json").read_text())["network_stats"]
    cli_graph = graph_from_checkpoint(ckpt)
    assert set(cli_graph.edges) == set(nas_graph.edges) and set(cli_graph.nodes) == set(nas_graph.nodes)
    assert stats["nodes"] == len(nas_graph.nodes) and stats["edges"] == len(nas_graph.edges)


def test_run_mapping_graph_equals_map_model_with_fan_in(digits, tmp_path):
    """`spikeloom run` maps the chosen SNN through `pipeline.mapping_policy`; `spikeloom map
    --model --fan-in N` with the library's input count builds the same graph."""
    from spikeloom.measure.graph import PruningPolicy, graph_from_checkpoint, graph_from_model
    from spikeloom.pipeline import mapping_policy
    from spikeloom.snn.checkpoint import load_checkpoint

    assert main(["train", "--topology", "64-40-10", "--timesteps", "4", "--epochs", "1",
                 "--out", str(tmp_path / "snn"), "--quiet"]) == 0
    path = tmp_path / "snn" / "model.pt"
    policy = mapping_policy("table2")
    assert policy == PruningPolicy(fan_in=32)
    run_graph = graph_from_model(load_checkpoint(path).build(), policy)
    map_graph = graph_from_checkpoint(path, PruningPolicy(fan_in=32))
    assert set(run_graph.edges) == set(map_graph.edges) and run_graph.max_fan_in == 32


def test_search_lever_candidate_equals_spikeloom_faults_mitigation(tmp_path):
    """A search candidate protected by msb-ecc: the same model and accuracy as its unprotected
    twin, the campaign `faults --mitigation msb-ecc` gives on the same split and seeds, and
    its energy charged by hand: Hamming SEC over 2 MSBs has 3 check bits (2^3 >= 2 + 3 + 1),
    data at codeword positions 3 and 5, so the syndrome takes 2 + 1 + 1 = 4 XORs and the
    correction 2: 6 one-bit XORs per 8-bit read = 0.75 ADD-equivalents per synaptic op."""
    from spikeloom.energy.tables import default_table

    out = tmp_path / "s"
    assert main(["search", "--timesteps", "4", "--thresholds", "0.5", "--epochs", "2", "--trials", "3",
                 "--levers", "msb-ecc", "--protect-bits", "2", "--margin", "0.5",
                 "--out", str(out), "--quiet"]) == 0
    s = json.loads((out / "summary.json").read_text())
    rows = {c["name"]: c for c in s["configs"]}
    base, ecc = rows["T4-th0.5"], rows["T4-th0.5+msb-ecc"]
    assert ecc["lever"] == "msb-ecc" and base["lever"] == "none"
    assert ecc["checkpoint"] == base["checkpoint"] and ecc["accuracy"] == base["accuracy"]
    add = default_table("int")["ADD"]
    assert ecc["energy_pj"] - base["energy_pj"] == pytest.approx(base["ops_per_sample"] * 0.75 * add, rel=1e-9)

    f = tmp_path / "f"
    assert main(["faults", "--model", base["checkpoint"], "--split", "validation", "--ber", "0.01",
                 "--trials", "3", "--scope", "model", "--mitigation", "msb-ecc", "--protect-bits", "2",
                 "--out", str(f), "--quiet"]) == 0
    faults = json.loads((f / "summary.json").read_text())
    assert faults["clean_accuracy"] == pytest.approx(ecc["accuracy"], rel=1e-12)
    assert faults["results"][0]["accuracies"] == s["campaigns"]["T4-th0.5+msb-ecc"]["results"][0]["accuracies"]
    assert faults["results"][0]["reliability_pct"] == pytest.approx(ecc["reliability_pct"], rel=1e-12)
    unprotected = s["campaigns"]["T4-th0.5"]["results"][0]["accuracies"]
    assert unprotected != faults["results"][0]["accuracies"]  # the lever changed what the faults did
