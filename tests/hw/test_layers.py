"""The layer-by-layer start (hw/layers.py, mapper._layered_start)."""

from __future__ import annotations

import pytest

from spikeloom.errors import ConfigError
from spikeloom.hw import (
    Graph,
    check_mapping,
    dbscan_flat_network,
    map_network,
    parse_library,
    preset_network,
)
from spikeloom.hw.instance import Instance
from spikeloom.hw.layers import depth_layers, layer_graph, side_by_side

LIB = parse_library("homogeneous:16x16")


def names(inst: Instance, ps: list[int]) -> set[str]:
    return {inst.node_ids[inst.placed[p]] for p in ps}


def test_depth_layers_by_hand():
    """DBSCAN flat 3 x 3: C reads inputs (depth 1), Core reads C (2), B reads Cores (3),
    Border reads B (4). A cycle b <-> c fed by a shares depth 1; d, fed by c, is at 2; the
    input a (no fan-in) is in no layer."""
    inst = Instance(dbscan_flat_network(3), LIB)
    layers = depth_layers(inst)
    kinds = [{n.split("[")[0] for n in names(inst, layer)} for layer in layers]
    assert kinds == [{"C"}, {"Core"}, {"B"}, {"Border"}] and [len(x) for x in layers] == [9] * 4
    g = Graph(("a", "b", "c", "d"), (("a", "b"), ("b", "c"), ("c", "b"), ("c", "d")), ("a",), ("d",))
    inst = Instance(g, LIB)
    assert [names(inst, layer) for layer in depth_layers(inst)] == [{"b", "c"}, {"d"}]


def test_layer_graph_and_side_by_side():
    """A layer's sub-network holds its neurons, the synapses into them and the sources outside
    it as inputs; side by side, the neurons without fan-in fill spare outputs (a crossbar of
    16 outputs holding 9 C neurons takes 7 of the 9 inputs, a new crossbar the other 2)."""
    inst = Instance(dbscan_flat_network(3), LIB)
    core = depth_layers(inst)[1]
    sub = layer_graph(inst, core, "core")
    assert set(sub.inputs) == {f"{k}[{r}][{c}]" for k in ("I", "C") for r in range(3) for c in range(3)}
    assert len(sub.edges) == 18 and set(sub.nodes) == set(sub.inputs) | names(inst, core)
    c_layer = depth_layers(inst)[0]
    bins = side_by_side(inst, [c_layer])
    assert sorted(len(b.neurons) for b in bins) == [2, 16]
    assert {p for b in bins for p in b.neurons} == set(c_layer) | {p for p in range(inst.n) if not inst.fanin[p]}


def test_layered_start_maps_each_layer_and_is_checker_valid():
    """DBSCAN flat 6 x 6 (180 nodes), --start layers: four layers, a valid mapping no larger
    than the layered start; the first mapping is the layers' (start_area = layers_area)."""
    g = dbscan_flat_network(6)
    res = map_network(g, LIB, time_limit=8, workers=1, start_method="layers", use_colgen=False, full_model=False)
    info = res.lower_bounds
    assert info["layers"] == 4 and info["start_area"] == info["layers_area"]
    assert res.valid and check_mapping(g, LIB, res.mapping_dict()).valid and res.area <= info["layers_area"]


def test_layered_start_needs_layers_and_one_size():
    """On a mixed library, or a network mostly in one layer, --start layers falls back to the
    constructive heuristic (and says so); an unknown start is a one-line error."""
    g = dbscan_flat_network(3)
    for net, lib in ((g, parse_library("table2")), (preset_network("A"), LIB)):  # A: 136 of 218 in one layer
        res = map_network(net, lib, time_limit=3, workers=1, start_method="layers")
        assert res.valid and "layers" not in res.lower_bounds
        assert any("layer-by-layer start does not apply" in n for n in res.notes)
    with pytest.raises(ConfigError, match="unknown start"):
        map_network(g, LIB, time_limit=1, start_method="layer")


def test_layered_start_hands_time_left_to_the_layers_after(monkeypatch):
    """The layers share `shares.layers` of the run (0.25 of 100 s = 25 s on a hand-made
    clock) by the neuron counts left: four equal layers; the first gets 25 / 4 = 6.25 s and
    uses 4, the second gets 21 / 3 = 7 s and overruns to 8, the third gets 13 / 2 = 6.5 s and
    uses 6, the last gets the 7 s that remain."""
    from spikeloom.hw import mapper
    from spikeloom.hw.budget import Budget

    now = [0.0]
    used = iter([4.0, 8.0, 6.0, 6.0])
    limits: list[float] = []
    real = mapper.map_network

    def timed_map(graph, library, **kw):
        limits.append(kw["time_limit"])
        now[0] += next(used)
        return real(graph, library, **{**kw, "time_limit": 1.0, "workers": 1})

    monkeypatch.setattr(mapper, "map_network", timed_map)
    inst = Instance(dbscan_flat_network(4), LIB)
    bins = mapper._layered_start(inst, mapper._layers(inst), Budget(100.0, clock=lambda: now[0]), 0, 1, {},
                                 lambda _m: None)
    assert limits == pytest.approx([6.25, 7.0, 6.5, 7.0])
    assert inst.is_valid(bins)
