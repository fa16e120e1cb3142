"""Mapper results against independently computed optima (brute force over set partitions)."""

from __future__ import annotations

import itertools

import pytest

from spikeloom.errors import ConfigError, InfeasibleError
from spikeloom.hw import Graph, check_mapping, map_network, parse_library, synthetic_network
from spikeloom.hw.baseline_mcc import mcc_mapping
from spikeloom.hw.bounds import area_bound
from spikeloom.hw.colgen import colgen_area_bound
from spikeloom.hw.heuristic import construct
from spikeloom.hw.instance import Instance


def partitions(items):
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for part in partitions(rest):
        for k in range(len(part)):
            yield part[:k] + [[first, *part[k]]] + part[k + 1:]
        yield [[first], *part]


def brute_force(graph: Graph, sizes: list[tuple[int, int, int]]):
    """(min area, min routes at min area, min global routes at min area) by enumeration."""
    fan = graph.fan_in
    best = None
    for part in partitions(list(graph.nodes)):
        area = routes = glob = 0
        ok = True
        for block in part:
            ax = {s for n in block for s in fan[n]}
            fits = [c for a, o, c in sizes if a >= len(ax) and o >= len(block)]
            if not fits:
                ok = False
                break
            area += min(fits)
            routes += len(ax)
            glob += len(ax - set(block))
        if ok:
            key = (area, routes, glob)
            best = key if best is None else min(best, key)
    best_glob = min(
        sum(len({s for n in b for s in fan[n]} - set(b)) for b in part)
        for part in partitions(list(graph.nodes))
        if sum(min([c for a, o, c in sizes if a >= len({s for n in b for s in fan[n]}) and o >= len(b)] or [10**9])
               for b in part) == best[0])
    return best[0], best[1], best_glob


XOR = Graph(("0", "4", "1", "2", "3"),
            (("1", "3"), ("1", "2"), ("3", "2"), ("0", "2"), ("2", "4"), ("0", "3"), ("2", "3"), ("3", "4")),
            ("0", "1"), ("4",), name="xor")


def test_xor_on_4x4_matches_hand_computation():
    # 5 neurons > 4 outputs: 2 crossbars (area 32). {2,3,4,+input} uses axons {0,1,2,3}: 4 routes,
    # one of them global; routes can't go below 4 (node 2 alone needs 3 + 3's input 2), and a
    # global route is unavoidable because {0,1,2,3,4} does not fit in 4 outputs.
    lib = parse_library("homogeneous:4x4")
    r = map_network(XOR, lib, objective="area-then-global-routes", time_limit=5, workers=1)
    assert (r.area, r.crossbars_used, r.routes_global) == (32, 2, 1)
    assert r.valid and r.status == "OPTIMAL" and r.gap == 0.0
    assert brute_force(XOR, [(4, 4, 16)]) == (32, 4, 1)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("sizes", [[(4, 4, 16)], [(4, 4, 16), (8, 4, 32), (4, 2, 8)]])
def test_small_random_graphs_reach_the_brute_force_optimum(seed, sizes):
    g = synthetic_network(7, 11, 4, seed=seed, locality=0.3)
    spec = ",".join(f"{a}x{o}" for a, o, _ in sizes)
    lib = parse_library(spec)
    area, routes, glob = brute_force(g, sizes)
    r = map_network(g, lib, objective="area", time_limit=5, workers=1, seed=seed)
    assert r.area == area and r.valid
    r2 = map_network(g, lib, objective="area-then-global-routes", time_limit=5, workers=1, seed=seed)
    assert r2.area == area and r2.routes_global == glob
    r3 = map_network(g, lib, objective="area-then-routes", time_limit=5, workers=1, seed=seed)
    assert r3.area == area and r3.routes_total == routes
    inst = Instance(g, lib)
    assert area_bound(inst) <= area
    lb, _, _ = colgen_area_bound(inst, construct(inst), time_limit=3, workers=1)
    assert lb <= area


def min_packets(graph: Graph, cap: int, weights: dict[str, float]) -> float:
    """Brute force: least packets among partitions into blocks of <= cap neurons and axons
    using the fewest blocks."""
    fan = graph.fan_in
    rows = []
    for part in partitions(list(graph.nodes)):
        axs = [{s for n in b for s in fan[n]} for b in part]
        if all(len(b) <= cap and len(a) <= cap for b, a in zip(part, axs, strict=True)):
            rows.append((len(part), sum(weights.get(v, 0) for b, a in zip(part, axs, strict=True) for v in a - set(b))))
    k = min(r[0] for r in rows)
    return min(p for n, p in rows if n == k)


@pytest.mark.parametrize("weights", [{"a": 100, "x": 1, "b": 5}, {"a": 1, "x": 100, "b": 5},
                                     {"a": 3, "x": 3, "b": 50}])
def test_packets_follow_the_profile(weights):
    g = Graph(("a", "b", "c", "x", "d"), (("a", "b"), ("a", "c"), ("x", "c"), ("x", "d"), ("b", "d")))
    lib = parse_library("homogeneous:2x2")
    r = map_network(g.with_weights(weights), lib, objective="area-then-packets", time_limit=5, workers=1)
    assert r.packets == min_packets(g, 2, weights) and r.valid
    with pytest.raises(ConfigError, match="profile"):
        map_network(g, lib, objective="packets", time_limit=1)


def test_mcc_baseline_on_xor():
    # no axon sharing: 2 (3 inputs) and 3 (3 inputs) cannot share a 4-input crossbar, nor can 4
    inst = Instance(XOR, parse_library("homogeneous:4x4"))
    bins = mcc_mapping(inst)
    assert len(bins) == 3
    r = map_network(XOR, parse_library("homogeneous:4x4"), method="mcc", time_limit=1)
    assert r.crossbars_used == 3 and r.valid


def test_infeasible_inputs():
    star = Graph(tuple("abcdef"), tuple((s, "f") for s in "abcde"))
    with pytest.raises(InfeasibleError, match=r"'f' has fan-in 5.*8x8"):
        map_network(star, parse_library("homogeneous:4x4"), time_limit=1)
    lib = parse_library("homogeneous:8x2")
    limited = type(lib)((type(lib.types[0])("8x2", 8, 2, 16, 2),))
    with pytest.raises(InfeasibleError, match="raise the crossbar counts"):
        map_network(star, limited, time_limit=1)


def test_preset_mapping_is_valid_and_beats_mcc():
    g = synthetic_network(60, 120, 6, seed=5)
    lib = parse_library("homogeneous:16x16")
    r = map_network(g, lib, time_limit=4, workers=2)
    m = map_network(g, lib, method="mcc", time_limit=1)
    assert r.valid and m.valid and r.area <= m.area
    assert r.lower_bound <= r.area
    rep = check_mapping(g, lib, r.mapping_dict())
    assert (rep.area, rep.routes_total, rep.routes_global) == (r.area, r.routes_total, r.routes_global)


def test_same_seed_same_heuristic():
    g = synthetic_network(40, 80, 5, seed=2)
    inst = Instance(g, parse_library("table2"))
    assert construct(inst, seed=4) == construct(inst, seed=4)
    assert list(itertools.islice(partitions([1, 2, 3]), 10)).__len__() == 5


def test_constructive_heuristic_by_hand():
    """4x4 crossbars. Seed a (fan-in 3: s1-s3); d shares s3 and brings one axon (s7): 4 axons,
    full. Nothing related is left for the second crossbar around b (s4, s5), so the unrelated
    neuron with fewest inputs that fits joins it (c, 1 input: 3 axons); the seven inputs fill
    the spare outputs (2 + 2) and a third crossbar (3)."""
    edges = [("s1", "a"), ("s2", "a"), ("s3", "a"), ("s4", "b"), ("s5", "b"), ("s6", "c"), ("s3", "d"), ("s7", "d")]
    ins = tuple(f"s{k}" for k in range(1, 8))
    g = Graph(ins + ("a", "b", "c", "d"), tuple(edges), ins, ("a", "b", "c", "d"))
    inst = Instance(g, parse_library("homogeneous:4x4"))
    bins = construct(inst)
    names = [{inst.node_ids[inst.placed[p]] for p in b.neurons} - set(ins) for b in bins]
    assert names == [{"a", "d"}, {"b", "c"}, set()]
    assert [len(b.neurons) for b in bins] == [4, 4, 3]


def test_second_stage_from_a_start_mapping_keeps_its_area_and_only_improves():
    g = synthetic_network(60, 120, 6, seed=5)
    lib = parse_library("homogeneous:16x16")
    area = map_network(g, lib, time_limit=3, workers=2)
    lex = map_network(g, lib, objective="area-then-global-routes", time_limit=2, workers=2, start=area)
    assert lex.valid and lex.area == area.area
    assert lex.routes_global <= area.routes_global
    assert lex.stages[0] == area.stages[0]  # the area stage is taken over, not re-solved
    other = synthetic_network(30, 60, 5, seed=1)
    with pytest.raises(ConfigError, match="start mapping"):
        map_network(other, lib, objective="area-then-global-routes", time_limit=1, start=area)


def test_exact_pricing_bound_is_valid_on_small_instances():
    """The pricing's upper bound is never below the best set found by enumeration."""
    from spikeloom.hw.pricing import exact_pricing

    g = synthetic_network(14, 30, 4, seed=3)
    inst = Instance(g, parse_library("homogeneous:4x4"))
    pi = [1.0 + (p % 3) for p in range(inst.n)]
    best = max(sum(pi[p] for p in s) for k in range(1, 5)
               for s in itertools.combinations(range(inst.n), k) if inst.fits(0, s))
    col, ub = exact_pricing(inst, 0, pi, 5.0, 1)
    assert col is not None and inst.fits(0, col)
    assert ub >= best - 1e-6 and abs(sum(pi[p] for p in col) - best) < 1e-6


@pytest.mark.parametrize("seed", range(6))
def test_exact_pricing_with_dominance_rows_finds_the_enumerated_optimum(seed):
    """The dominance rows x_p <= x_q (pricing.dominance) never cut off the optimum: on small
    networks with input-free neurons, equal source sets and tied duals, the pricing value is
    the maximum found by enumerating every set, its bound is not below it, and the extra
    columns from SCIP's solution pool all fit."""
    import random

    from spikeloom.hw.pricing import dominance, exact_pricing

    g = synthetic_network(13, 24, 4, seed=seed)
    inst = Instance(g, parse_library("homogeneous:4x4"))
    rng = random.Random(seed)
    pi = [rng.choice([0.0, 0.5, 1.0, 1.0, 2.0, 3.5]) for _ in range(inst.n)]
    best = max(sum(pi[p] for p in s) for k in range(1, 5)
               for s in itertools.combinations(range(inst.n), k) if inst.fits(0, s))
    rows = dominance(inst, [p for p in range(inst.n) if pi[p] > 0], pi)
    assert rows or seed == 3  # exercised on every seed but 3
    pool: list[tuple[int, ...]] = []
    col, ub = exact_pricing(inst, 0, pi, 5.0, 1, pool)
    assert col is not None and inst.fits(0, col)
    assert abs(sum(pi[p] for p in col) - best) < 1e-6
    assert best - 1e-6 <= ub <= best * (1 + 1e-3) + 1e-6
    assert all(inst.fits(0, c) for c in pool)
