"""Mixed libraries (table2): split-dominated sizes, pricing by enumeration, the typed crossbar
elimination and equal-area merges, against optima found by enumerating set partitions."""

from __future__ import annotations

import itertools
import random

import pytest

from spikeloom.hw import check_mapping, map_network, parse_library, synthetic_network
from spikeloom.hw.anneal import anneal_area, applies, cost_table
from spikeloom.hw.colgen import colgen_area_bound
from spikeloom.hw.crossbars import PAPER_SIZES, CrossbarLibrary, crossbar_type, split_dominated
from spikeloom.hw.graph import Graph
from spikeloom.hw.heuristic import construct, merge
from spikeloom.hw.instance import Bin, Instance
from spikeloom.hw.master import Master, exchanges
from spikeloom.hw.pricing import enum_pricing
from spikeloom.hw.typed_repack import eliminate_typed

from .test_mapping import brute_force

X4 = "4x4,8x4,16x4,32x4"


def _sizes(lib: CrossbarLibrary) -> list[tuple[int, int, int]]:
    return [(t.inputs, t.outputs, t.cost) for t in lib.types]


def test_table2_needs_only_its_four_a_x_4_sizes():
    lib = parse_library("table2")
    dropped = {lib.types[k].name for k in split_dominated(lib.types)}
    assert dropped == {s for s in PAPER_SIZES if not s.endswith("x4")}
    # a limited size dominates nothing; a size cheaper than its split is kept
    limited = (crossbar_type("8x4", count=3), crossbar_type("8x8"))
    assert split_dominated(limited) == []
    cheap = (crossbar_type("8x4"), crossbar_type("8x8", cost=50))
    assert split_dominated(cheap) == []
    # chains: 16x16 by 16x8 by 16x4 (each split costs the same); 16x4 is kept
    chain = (crossbar_type("16x16"), crossbar_type("16x8"), crossbar_type("16x4"))
    assert split_dominated(chain) == [0, 1]


@pytest.mark.parametrize("seed", range(6))
def test_split_reduced_library_has_the_same_enumerated_optimum(seed):
    g = synthetic_network(8, 14, 5, seed=seed, locality=0.4)
    full = brute_force(g, _sizes(parse_library("table2")))[0]
    assert brute_force(g, _sizes(parse_library(X4)))[0] == full


@pytest.mark.parametrize("seed", range(4))
def test_table2_mapping_reaches_the_enumerated_optimum_with_a_valid_bound(seed):
    g = synthetic_network(8, 14, 5, seed=seed, locality=0.4)
    lib = parse_library("table2")
    opt = brute_force(g, _sizes(lib))[0]
    r = map_network(g, lib, objective="area", time_limit=8, workers=1, seed=seed)
    assert r.area == opt and r.valid and r.lower_bound <= opt
    assert check_mapping(g, lib, r.mapping_dict()).valid
    inst = Instance(g, parse_library(X4))
    lb, _, cols = colgen_area_bound(inst, construct(inst), time_limit=5, workers=1)
    assert lb <= opt and all(inst.fits(t, ns) for t, ns in cols)


@pytest.mark.parametrize("seed", range(8))
def test_enumeration_pricing_finds_the_maximum_of_brute_force(seed):
    g = synthetic_network(13, 28, 5, seed=seed, locality=0.5)
    inst = Instance(g, parse_library("4x4,8x4,8x8,16x4"))
    rng = random.Random(seed)
    pi = [rng.choice([0.0, rng.random() * 5, 1.0]) for _ in range(inst.n)]  # zeros and ties too
    for t, ct in enumerate(inst.types):
        best = max((sum(pi[p] for p in s) for k in range(1, ct.outputs + 1)
                    for s in itertools.combinations(range(inst.n), k) if inst.fits(t, s)), default=0.0)
        pool: list[tuple[int, ...]] = []
        col, ub = enum_pricing(inst, t, pi, pool=pool)
        assert best <= ub <= best * (1 + 1e-8) + 1e-9  # an upper bound, with float slack
        assert col is None or (inst.fits(t, col) and sum(pi[p] for p in col) == pytest.approx(best))
        assert all(inst.fits(t, c) for c in pool)
    assert enum_pricing(inst, 0, pi, nodes=1) is None  # gives up: the caller solves the MIP


def _singletons(seed: int) -> tuple[Instance, list[Bin], int]:
    """A small network on the A x 4 sizes, one neuron per crossbar, and its enumerated optimum."""
    g = synthetic_network(8, 14, 5, seed=seed, locality=0.4)
    inst = Instance(g, parse_library(X4))
    return inst, [Bin(inst.allowed[p][0], (p,)) for p in range(inst.n)], brute_force(g, _sizes(inst.library))[0]


@pytest.mark.parametrize("seed", range(6))
def test_typed_elimination_from_singletons_reaches_the_enumerated_optimum(seed):
    inst, singles, opt = _singletons(seed)
    bins = eliminate_typed(inst, singles, time_limit=5, seed=seed, target=opt)
    assert inst.is_valid(bins) and inst.metrics(bins)["area"] == opt


def test_merge_joins_crossbars_that_share_axons_at_no_more_area():
    g = Graph(("s1", "s2", "s3", "n1", "n2", "n3", "n4"),
              (("s1", "n1"), ("s2", "n1"), ("s1", "n2"), ("s3", "n2"), ("s2", "n3"), ("s3", "n3"), ("s1", "n4")),
              ("s1", "s2", "s3"), ("n4",), name="merge")
    inst = Instance(g, parse_library("table2"), external_inputs=True)
    by_name = {t.name: k for k, t in enumerate(inst.types)}
    bins = [Bin(by_name["8x4"], (0, 1)), Bin(by_name["8x4"], (2, 3))]
    assert inst.metrics(bins) == {"area": 64, "routes": 6, "global": 6, "packets": 0.0}
    out = merge(inst, bins)  # one 4x4 holds all four (3 axons): 16 cells, 3 routes
    assert out == [Bin(by_name["4x4"], (0, 1, 2, 3))]
    # nothing shared, nothing merged
    lone = Instance(Graph(("a", "b", "x", "y"), (("a", "x"), ("b", "y")), ("a", "b"), ("x", "y")),
                    parse_library("table2"), external_inputs=True)
    two = [Bin(by_name["4x4"], (0,)), Bin(by_name["4x4"], (1,))]
    assert merge(lone, two) == two


def _all_columns(inst: Instance) -> list[tuple[int, tuple[int, ...]]]:
    return [(t, s) for t, ct in enumerate(inst.types) for k in range(1, ct.outputs + 1)
            for s in itertools.combinations(range(inst.n), k) if inst.fits(t, s)]


@pytest.mark.parametrize("seed", range(6))
def test_exchanges_are_the_subset_pairs_and_keep_the_lp_value(seed):
    g = synthetic_network(9, 16, 4, seed=seed, locality=0.5)
    inst = Instance(g, parse_library(X4))
    pairs = set(exchanges(inst))
    # the pairs' transitive closure is exactly "src(q) a subset of src(p)", q != p
    closure = set(pairs)
    while True:
        more = {(a, d) for a, b in closure for c, d in closure if b == c and a != d} - closure
        if not more:
            break
        closure |= more
    subsets = {(q, p) for q in range(inst.n) for p in range(inst.n)
               if q != p and set(inst.src[q]) <= set(inst.src[p])}
    assert closure == subsets
    # the LP over every enumerated column has the same value with the exchange variables
    cols = _all_columns(inst)
    plain, doi = Master(inst, cols), Master(inst, cols, exchange=True)
    v0 = plain.solve()[1]
    pi1, v1 = doi.solve()
    assert v1 == pytest.approx(v0, rel=1e-9)
    assert all(pi1[q] <= pi1[p] + 1e-9 for q, p in subsets)  # the dual-optimal inequalities hold
    # a restricted master with exchanges stays above the LP optimum
    few = Master(inst, cols[: len(cols) // 3], exchange=True)
    assert few.solve()[1] >= v0 - 1e-9


def test_cost_table_is_the_cheapest_size_holding_a_group():
    inst = Instance(synthetic_network(8, 14, 5, seed=0), parse_library(X4))
    table = cost_table(inst)  # table2's A x 4 sizes: 4 x the next of 4, 8, 16, 32 inputs
    assert table[0][9] == 0 and table[1][0] == 16 and table[4][4] == 16 and table[2][5] == 32
    assert table[3][16] == 64 and table[4][17] == 128 and table[4][33] == float("inf")
    assert applies(inst) and not applies(Instance(inst.graph, CrossbarLibrary((crossbar_type("8x4", count=3), crossbar_type("32x4")))))


@pytest.mark.parametrize("seed", range(6))
def test_annealing_from_singletons_reaches_the_enumerated_optimum(seed):
    inst, singles, opt = _singletons(seed)
    seen: list[int] = []
    bins = anneal_area(inst, singles, time_limit=3, seed=seed, target=opt,
                       log=lambda b: seen.append(inst.metrics(b)["area"]))
    assert inst.is_valid(bins) and inst.metrics(bins)["area"] == opt
    assert seen == sorted(seen, reverse=True) and seen[-1] == opt  # every improvement logged


@pytest.mark.parametrize("workers", [1, 2])
def test_limited_counts_keep_the_typed_elimination_and_their_counts(workers):
    g = synthetic_network(12, 22, 4, seed=3, locality=0.5)
    lib = CrossbarLibrary((crossbar_type("4x4", count=2), crossbar_type("8x4")))
    r = map_network(g, lib, objective="area", time_limit=3, workers=workers)
    by_size = r.summary_dict()["crossbars_by_size"]
    assert r.valid and by_size.get("4x4", 0) <= 2 and check_mapping(g, lib, r.mapping_dict()).valid
    assert r.lower_bound <= r.area


@pytest.mark.parametrize("seed", range(3))
def test_annealing_settings_follow_the_cost_scale(seed):
    """Costs a quarter of table2's (4x4 costs 4 cells): the same search, the optimum again."""
    g = synthetic_network(8, 14, 5, seed=seed, locality=0.4)
    lib = CrossbarLibrary(tuple(crossbar_type(f"{a}x4", cost=a) for a in (4, 8, 16, 32)))
    inst = Instance(g, lib)
    opt = brute_force(g, _sizes(lib))[0]
    singles = [Bin(inst.allowed[p][0], (p,)) for p in range(inst.n)]
    bins = anneal_area(inst, singles, time_limit=3, seed=seed, target=opt)
    assert inst.is_valid(bins) and inst.metrics(bins)["area"] == opt
