"""Hypergraph-partitioner mappings (hw/hypergraph.py): capacities kept, the repair gives
mappings the independent checker accepts, the start and the baseline wired into
map_network, and a one-line error without the extra."""

from __future__ import annotations

import sys

import pytest

from spikeloom.errors import ConfigError
from spikeloom.hw import (
    check_mapping,
    map_network,
    parse_library,
    preset_network,
    synthetic_network,
)
from spikeloom.hw.instance import Instance


def test_missing_partitioner_is_one_configerror_naming_the_extra(monkeypatch):
    from spikeloom.hw import hypergraph

    monkeypatch.setitem(sys.modules, "mtkahypar", None)  # import fails
    monkeypatch.setattr(hypergraph, "_INIT", {})
    assert not hypergraph.available()
    g = synthetic_network(30, 60, 4, seed=1)
    with pytest.raises(ConfigError, match=r"spikeloom\[hypergraph\]"):
        map_network(g, parse_library("homogeneous:8x8"), method="hypergraph", time_limit=1)


def test_partition_keeps_block_capacities_and_repair_is_valid():
    pytest.importorskip("mtkahypar")
    from spikeloom.hw.hypergraph import partition, repair

    g = synthetic_network(120, 300, 6, seed=4)
    lib = parse_library("homogeneous:8x8")
    inst = Instance(g, lib)
    blocks = partition(inst, 16, 8, seed=0)
    assert len(blocks) == inst.n and set(blocks) <= set(range(16))
    assert max(blocks.count(b) for b in set(blocks)) <= 8
    bins = repair(inst, blocks, 0)
    assert inst.is_valid(bins)
    # the repair only moves neurons out of overflowing blocks: a block that fit stays
    # together (it may receive neurons)
    fitting = [{p for p, b in enumerate(blocks) if b == k} for k in set(blocks)]
    fitting = [f for f in fitting if inst.fits(0, sorted(f))]
    assert fitting and all(any(f <= set(b.neurons) for b in bins) for f in fitting)


def test_repair_of_a_hand_made_overflow():
    """Four neurons with disjoint pairs of inputs on one 4x4 crossbar need 8 axons: the
    repair moves neurons out until each crossbar has at most 4 axons (two crossbars)."""
    pytest.importorskip("mtkahypar")
    from spikeloom.hw import Graph
    from spikeloom.hw.hypergraph import repair

    edges = tuple((f"i{k}", f"n{k // 2}") for k in range(8))
    g = Graph(tuple(f"i{k}" for k in range(8)) + tuple(f"n{k}" for k in range(4)), edges,
              tuple(f"i{k}" for k in range(8)), ("n0",), name="pairs")
    inst = Instance(g, parse_library("homogeneous:4x4"), external_inputs=True)
    bins = repair(inst, [0, 0, 0, 0], 0)
    assert inst.is_valid(bins) and len(bins) == 2


@pytest.mark.parametrize("lib", ["homogeneous:16x16", "table2"])
def test_hypergraph_baseline_is_checker_valid_and_ours_beats_it(lib):
    pytest.importorskip("mtkahypar")
    g = preset_network("E")
    library = parse_library(lib)
    hg = map_network(g, library, method="hypergraph", time_limit=3, workers=1)
    assert hg.method == "hypergraph" and hg.status == "HEURISTIC"
    assert check_mapping(g, library, hg.mapping_dict()).valid and hg.valid
    ours = map_network(g, library, time_limit=5, workers=1, start_method="best")
    assert ours.valid and ours.area < hg.area


def test_hypergraph_start_is_taken_when_better_and_never_worse():
    """The search keeps the start it is given: from the repaired partition its result is at
    most that partition's area; "best" starts from the better of it and the constructive
    heuristic."""
    pytest.importorskip("mtkahypar")
    from spikeloom.hw.heuristic import best_construct
    from spikeloom.hw.lns import score

    g = synthetic_network(300, 700, 8, seed=21)
    lib = parse_library("homogeneous:16x16")
    res = map_network(g, lib, time_limit=3, workers=1, seed=3, start_method="hypergraph", use_colgen=False,
                      full_model=False)
    info = res.lower_bounds
    assert res.valid and info["hypergraph_partitions"] >= 1
    assert info["start_area"] == info["hypergraph_area"] and res.area <= info["hypergraph_area"]
    best = map_network(g, lib, time_limit=3, workers=1, seed=3, start_method="best", use_colgen=False,
                       full_model=False)
    inst = Instance(g, lib)
    constructed = inst.metrics(best_construct(inst, 8, 3, lambda s: score(inst, s, ("area",))))["area"]
    info = best.lower_bounds
    assert info["start_area"] == min(constructed, info["hypergraph_area"]) and best.area <= info["start_area"]
