"""Energy from operation counts, checked by hand on a 2-layer toy with known spikes."""

from __future__ import annotations

import json

import pytest
import torch

from spikeloom.energy import (
    TABLE_45NM,
    energy_from_counts,
    energy_ratio,
    load_table,
    normalize_table,
)
from spikeloom.errors import ConfigError
from spikeloom.measure import measure_energy
from spikeloom.snn import build_model
from spikeloom.spec import ModelConfig


def test_ann_macs_by_hand():
    rep = energy_from_counts((4, 3, 2), "ann")
    assert rep.ops_per_sample == 4 * 3 + 3 * 2 == 18
    assert rep.energy_pj_per_sample == pytest.approx(18 * 3.2)
    assert [r["ops"] for r in rep.per_layer] == [12, 6]
    fp = energy_from_counts((4, 3, 2), "ann", precision="fp")
    assert fp.energy_pj_per_sample == pytest.approx(18 * 4.6)


def _toy():
    """4-3-2 SNN with identity-like weights and direct 0/1 inputs: every spike is known."""
    cfg = ModelConfig(topology=(4, 3, 2), timesteps=2, threshold=0.5, beta=1.0, encoding="direct")
    model = build_model(cfg).eval()
    with torch.no_grad():
        model.fcs[0].weight.copy_(torch.tensor([[1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]]))
        model.fcs[1].weight.copy_(torch.tensor([[1.0, 0, 0], [0, 0, 0]]))
    return model, cfg, torch.tensor([[1.0, 1.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0]])


def test_snn_counts_from_known_spikes():
    """4-3-2 SNN, identity-like weights; the input spikes are fixed by a 'direct' encoding of 0/1
    pixels, so every spike is known: ACs = input spikes x 3 + hidden spikes x 2."""
    model, cfg, x = _toy()
    # sample 1: input spikes 3 per step -> 6; hidden: neurons 0 and 1 fire each step -> 4;
    #           output neuron 0 fires each step -> 2
    # sample 2: input 1 per step -> 2; hidden neuron 0 each step -> 2; output 0 each step -> 2
    rep = measure_energy(model, cfg, x)
    assert list(rep.spikes_per_layer) == [4.0, 3.0, 2.0]
    assert [r["ops"] for r in rep.per_layer] == [4.0 * 3, 3.0 * 2]  # spikes x fan-out
    assert rep.ops_per_sample == 18.0
    assert rep.energy_pj_per_sample == pytest.approx(18 * 0.1)  # ACC, int column
    assert rep.per_layer[0]["input_spikes"] == 4.0 and rep.per_layer[0]["synops"] == 12.0
    ann = energy_from_counts((4, 3, 2), "ann")
    assert energy_ratio(ann, rep) == pytest.approx(18 * 3.2 / 1.8)


def test_default_table_is_the_45nm_one():
    assert TABLE_45NM["int"] == {"ADD": 0.1, "MUL": 3.1, "ACC": 0.1, "MAC": 3.2}
    assert TABLE_45NM["fp"] == {"ADD": 0.9, "MUL": 3.7, "ACC": 0.9, "MAC": 4.6}


def test_user_tables(tmp_path):
    flat = tmp_path / "t.json"
    flat.write_text(json.dumps({"mac": 2.0, "ACC": 0.5}))
    assert load_table(flat) == {"MAC": 2.0, "ACC": 0.5}
    cols = tmp_path / "t.yaml"
    cols.write_text("int: {MAC: 1.0, ACC: 0.25}\nfp:\n  MAC: 4.0\n  ACC: 1.0\n")
    assert load_table(cols, "fp") == {"MAC": 4.0, "ACC": 1.0}
    rep = energy_from_counts((4, 3, 2), "ann", table={"MAC": 2.0, "ACC": 0.5})
    assert rep.energy_pj_per_sample == 36.0


@pytest.mark.parametrize("content, needle", [
    ('{"MAC": "x", "ACC": 1}', "finite number"),
    ('{"MAC": 1}', "missing ACC"),
    ('[1, 2]', "expected a mapping"),
    ('{"MAC": 1, "ACC": -2}', "finite number"),
    ("{not json", "malformed"),
    ('{"fp": {"MAC": 1, "ACC": 1}}', "no 'int' column"),
])
def test_malformed_tables(tmp_path, content, needle):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=needle):
        load_table(path)


def test_bad_precision_and_missing_spikes():
    with pytest.raises(ConfigError, match="unknown precision"):
        normalize_table({"MAC": 1, "ACC": 1}, "bf16")
    with pytest.raises(ConfigError, match="spike counts"):
        energy_from_counts((4, 3, 2), "snn", spikes_per_layer=[1.0])


def test_energy_of_a_pruned_network_by_hand():
    """4-3-2 SNN with direct 0/1 inputs; stored synapses leaving each neuron are counted."""
    model, cfg, x = _toy()
    dense = measure_energy(model, cfg, x)
    sparse = measure_energy(model, cfg, x, synapses="nonzero")
    # per-sample input spikes: pixel 0: 2, pixel 1: 1, pixel 3: 1; stored fan-out 1, 1, 0, 0
    # hidden spikes: neuron 0: 2, neuron 1: 1; stored fan-out 1, 0, 0
    assert [r["ops"] for r in sparse.per_layer] == [3.0, 2.0]
    assert [r["synapses"] for r in sparse.per_layer] == [2.0, 1.0]
    assert sparse.ops_per_sample == 5.0 and sparse.synapses == "nonzero"
    assert dense.ops_per_sample == 18.0 and dense.synapses == "dense"
    ann = measure_energy(build_model(cfg.replace(arch="ann")), cfg.replace(arch="ann"), x,
                         synapses="dense")
    assert ann.ops_per_sample == 4 * 3 + 3 * 2
    with pytest.raises(ConfigError, match="synapse count"):
        measure_energy(model, cfg, x, synapses="some")
