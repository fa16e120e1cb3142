from __future__ import annotations

import json

import numpy as np
import pytest

from spikeloom.errors import ConfigError, DataError
from spikeloom.hw import (
    Graph,
    dbscan_flat_network,
    graph_from_nir,
    graph_from_weights,
    grid_network,
    load_edge_csv,
    load_network,
    load_profile,
    load_tennlab,
    preset_network,
    synthetic_network,
)


def test_tennlab_fixtures_import_with_their_counts(tennlab_dir):
    xor = load_tennlab(tennlab_dir / "xor_noleak.json")
    assert (len(xor.nodes), len(xor.edges)) == (5, 8)
    assert xor.inputs == ("0", "1") and xor.outputs == ("4",)
    assert sorted(xor.fan_in["2"]) == ["0", "1", "3"]
    pole = load_network(tennlab_dir / "pole-balance.json")
    assert (len(pole.nodes), len(pole.edges)) == (10, 7)


def test_malformed_files_raise_one_line_data_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DataError):
        load_tennlab(bad)
    (tmp_path / "x.json").write_text(json.dumps({"Nodes": [{"id": 0}], "Edges": [{"from": 0, "to": 9}]}))
    with pytest.raises(DataError, match="unknown node '9'"):
        load_tennlab(tmp_path / "x.json")
    (tmp_path / "y.json").write_text(json.dumps({"Edges": []}))
    with pytest.raises(DataError, match="TENNLab"):
        load_tennlab(tmp_path / "y.json")
    with pytest.raises(ConfigError):
        load_network(tmp_path / "net.xyz")


def test_edge_csv(tmp_path):
    f = tmp_path / "e.csv"
    f.write_text("source,target\n# comment\na,b\na,c\nb,c\na,b\n")
    g = load_edge_csv(f)
    assert g.nodes == ("a", "b", "c") and len(g.edges) == 3  # duplicate synapse = one axon
    f.write_text("a\n")
    with pytest.raises(DataError, match="line 1"):
        load_edge_csv(f)


def test_weights_prune_and_ids():
    w0 = np.array([[0.5, 0.0, -0.2], [0.0, 0.01, 0.9]])  # [out=2, in=3]
    w1 = np.array([[1.0, -1.0]])
    g = graph_from_weights([w0, w1], threshold=0.05)
    assert len(g.nodes) == 3 + 2 + 1
    assert set(g.edges) == {("L0:0", "L1:0"), ("L0:2", "L1:0"), ("L0:2", "L1:1"),
                            ("L1:0", "L2:0"), ("L1:1", "L2:0")}
    assert g.inputs == ("L0:0", "L0:1", "L0:2") and g.outputs == ("L2:0",)
    with pytest.raises(DataError, match="chain"):
        graph_from_weights([w0, np.ones((1, 5))])


def test_nir_graph_to_neurons(tmp_path):
    nir = pytest.importorskip("nir")
    w = np.array([[1.0, 0.0, 0.3], [0.0, 0.0, -2.0]])
    g = nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([3])), nir.Affine(weight=w, bias=np.zeros(2)),
        nir.LIF(tau=np.ones(2), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2)),
        nir.Output(output_type=np.array([2])))
    path = tmp_path / "net.nir"
    nir.write(str(path), g)
    graph = load_network(path, threshold=0.5)
    assert len(graph.nodes) == 5
    assert set(graph.edges) == {("input:0", "lif:0"), ("input:2", "lif:1")}
    assert set(graph.outputs) == {"lif:0", "lif:1"}
    assert len(graph_from_nir(nir.read(str(path))).edges) == 3


@pytest.mark.parametrize("name,counts", [("A", (229, 464, 11)), ("B", (257, 464, 10)),
                                         ("C", (148, 487, 15)), ("D", (253, 499, 13)),
                                         ("E", (150, 446, 11))])
def test_presets_have_the_paper_counts(name, counts):
    g = preset_network(name)
    assert (len(g.nodes), len(g.edges), g.max_fan_in) == counts
    assert preset_network(name) == g  # seeded


def test_grid_network_counts_by_hand():
    """3 x 3 grid, one layer, radius 1: with keep = 1 every neuron reads its whole clipped
    3 x 3 window (4 corners x 4 + 4 sides x 6 + centre 9 = 49 edges); with keep = 0 only
    the neuron below it (9 edges)."""
    full = grid_network(3, layers=1, keep=1.0)
    assert (len(full.nodes), len(full.edges), full.max_fan_in) == (18, 49, 9)
    assert len(full.inputs) == len(full.outputs) == 9 and ("0.0.0", "1.1.1") in full.edges
    assert len(grid_network(3, layers=1, keep=0.0).edges) == 9
    g = grid_network(6, layers=2, keep=0.5, seed=4)
    assert g == grid_network(6, layers=2, keep=0.5, seed=4) != grid_network(6, layers=2, keep=0.5, seed=5)
    assert 2 * 36 < len(g.edges) < 2 * 16**2  # between the centres only and every full window (16^2 a layer)
    with pytest.raises(ConfigError):
        grid_network(0)


def test_dbscan_flat_network_is_tennlabs_wiring(tennlab_dir):
    """22 x 22 gives the real file's edges, name for name; 2 x 2 by hand: each C and B reads
    the 3 other cells (4 x 3 x 2 = 24), Core 2 and Border 3 per cell (20): 44 edges."""
    real = json.loads((tennlab_dir / "dbscan_flat_full_22_22_1_4.json").read_text())
    name = {n["id"]: n["name"] for n in real["Nodes"]}
    g = dbscan_flat_network(22)
    assert set(g.edges) == {(name[e["from"]], name[e["to"]]) for e in real["Edges"]}
    assert sorted(g.nodes) == sorted(name.values()) and set(g.inputs) == {name[i] for i in real["Inputs"]}
    assert set(g.outputs) == {name[i] for i in real["Outputs"]}
    small = dbscan_flat_network(2)
    assert (len(small.nodes), len(small.edges), small.max_fan_in) == (20, 44, 3)
    assert ("I[0][1]", "C[1][0]") in small.edges and ("I[0][0]", "C[0][0]") not in small.edges
    with pytest.raises(ConfigError):
        dbscan_flat_network(0)


def test_generator_is_seeded_and_takes_sparsity():
    a = synthetic_network(60, 150, 7, seed=3)
    assert a == synthetic_network(60, 150, 7, seed=3)
    assert a != synthetic_network(60, 150, 7, seed=4)
    b = synthetic_network(50, sparsity=0.95, max_fan_in=8, seed=1)
    assert len(b.edges) == round((1 - 0.95) * 50 * 49) and b.max_fan_in == 8
    with pytest.raises(ConfigError):
        synthetic_network(10, 500, 3)


def test_graph_rejects_bad_profile_and_duplicates(tmp_path):
    with pytest.raises(DataError, match="twice"):
        Graph(("a", "a"), ())
    g = Graph(("a", "b"), (("a", "b"),))
    with pytest.raises(DataError, match="unknown neuron"):
        g.with_weights({"zz": 1.0})
    p = tmp_path / "p.csv"
    p.write_text("neuron,count\na,3\nb,0.5\n")
    assert load_profile(p) == {"a": 3.0, "b": 0.5}
