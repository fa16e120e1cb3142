from __future__ import annotations

import copy

from spikeloom.hw import Graph, check_mapping, parse_library

G = Graph(("a", "b", "c", "d"), (("a", "b"), ("a", "c"), ("b", "c"), ("d", "c")))
LIB = parse_library("homogeneous:4x2")
GOOD = {
    "crossbars": [
        {"id": 0, "type": "4x2", "inputs": 4, "outputs": 2, "neurons": ["b", "c"], "axons": ["a", "b", "d"]},
        {"id": 1, "type": "4x2", "inputs": 4, "outputs": 2, "neurons": ["a", "d"], "axons": []},
    ],
    "assignment": {"b": 0, "c": 0, "a": 1, "d": 1},
}


def test_good_mapping_and_recomputed_objectives():
    rep = check_mapping(G.with_weights({"a": 5, "b": 1, "d": 2}), LIB, GOOD)
    assert rep.valid, rep.errors
    # axons a, b, d on crossbar 0; b is local -> 3 routes, 2 global; packets = W_a + W_d
    assert (rep.area, rep.crossbars_used, rep.routes_total, rep.routes_global, rep.packets) == (16, 2, 3, 2, 7.0)


def broken(edit):
    m = copy.deepcopy(GOOD)
    edit(m)
    return check_mapping(G, LIB, m)


def test_checker_rejects_broken_mappings():
    def twice(m):
        m["crossbars"][1]["neurons"].append("b")
    def missing(m):
        m["crossbars"][1]["neurons"].remove("d")
        del m["assignment"]["d"]
    def too_many_outputs(m):
        m["crossbars"][0]["neurons"].append("d")
        m["crossbars"][1]["neurons"].remove("d")
        m["assignment"]["d"] = 0
    def missing_axon(m):
        m["crossbars"][0]["axons"].remove("d")
    def bad_type(m):
        m["crossbars"][0]["type"] = "16x16"
    def wrong_assignment(m):
        m["assignment"]["a"] = 0
    for edit, word in [(twice, "on crossbars"), (missing, "not placed"), (too_many_outputs, "outputs"),
                       (missing_axon, "lacks axons"), (bad_type, "not in the library"),
                       (wrong_assignment, "assignment")]:
        rep = broken(edit)
        assert not rep.valid and any(word in e for e in rep.errors), (edit.__name__, rep.errors)


def test_axon_capacity_and_counts():
    lib = parse_library("homogeneous:2x2")
    m = copy.deepcopy(GOOD)
    for xb in m["crossbars"]:
        xb["type"], xb["inputs"] = "2x2", 2
    rep = check_mapping(G, lib, m)
    assert not rep.valid and any("needs 3 axons" in e for e in rep.errors)
    limited = type(LIB)((type(LIB.types[0])("4x2", 4, 2, 8, 1),))
    rep = check_mapping(G, limited, GOOD)
    assert any("only 1 available" in e for e in rep.errors)
