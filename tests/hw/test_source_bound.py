"""The source-cover bound (source_bound.py) against enumeration: its duals are feasible for
the set-covering LP (checked on every subset of neurons), it never exceeds the LP optimum
nor the enumerated mapping optimum, and by hand it proves an optimum counting cannot."""

from __future__ import annotations

import itertools
import random

import pytest

from spikeloom.hw import Graph, map_network, parse_library, synthetic_network
from spikeloom.hw.bounds import area_bound, conflict_bound
from spikeloom.hw.instance import Instance
from spikeloom.hw.source_bound import most_violated, source_blocks, source_cover_bound

from .test_repack_colgen import SMALL


def _fitting_sets(inst: Instance):
    """Every (size index, neuron set) that fits that size, by enumeration."""
    for k in range(1, inst.n + 1):
        for s in itertools.combinations(range(inst.n), k):
            for t in range(len(inst.types)):
                if inst.fits(t, s):
                    yield t, s


def _set_cover_lp(inst: Instance) -> float:
    """The set-covering LP over every fitting set (GLOP), independent of colgen.py."""
    from ortools.linear_solver import pywraplp

    solver = pywraplp.Solver.CreateSolver("GLOP")
    cols = list(_fitting_sets(inst))
    z = [solver.NumVar(0, solver.infinity(), "") for _ in cols]
    for p in range(inst.n):
        solver.Add(solver.Sum([z[c] for c, (_, s) in enumerate(cols) if p in s]) >= 1)
    solver.Minimize(solver.Sum([inst.types[t].cost * z[c] for c, (t, _) in enumerate(cols)]))
    assert solver.Solve() == pywraplp.Solver.OPTIMAL
    return solver.Objective().Value()


@pytest.mark.parametrize(("seed", "opt"), SMALL)
@pytest.mark.parametrize("library", ["homogeneous:4x4", "4x4,8x8", "4x8,8x4"])
def test_duals_are_lp_feasible_and_the_bound_below_the_lp(seed, opt, library):
    inst = Instance(synthetic_network(9, 16, 4, seed=seed, locality=0.3), parse_library(library))
    lp = _set_cover_lp(inst)
    sets = list(_fitting_sets(inst))
    raws = []
    for block in (1, 2, 4, 8):
        lb, pi, info = source_cover_bound(inst, blocks=(block,))
        assert info["source_blocks_uniform"] == 0
        for t, s in sets:
            assert sum(pi[p] for p in s) <= inst.types[t].cost * (1 + 1e-9)
        assert info["source_raw"] == pytest.approx(sum(pi))
        assert sum(pi) <= lp * (1 + 1e-9)
        raws.append(sum(pi))
        if library == "homogeneous:4x4":
            assert lb <= 16 * opt
    assert source_cover_bound(inst)[2]["source_raw"] == pytest.approx(max(raws[0], raws[2], raws[3]))


def test_blocks_partition_the_sources():
    inst = Instance(synthetic_network(60, 150, 6, seed=3), parse_library("homogeneous:8x8"))
    for size in (1, 3, 8):
        blocks = source_blocks(inst, size)
        flat = [v for b in blocks for v in b]
        assert sorted(flat) == sorted(inst.sources_used) and all(1 <= len(b) <= size for b in blocks)


def test_bound_proves_an_optimum_counting_and_conflict_miss():
    """4-input, 8-output crossbars; six neurons read a, b and one private source each. Two
    fit a crossbar (4 axons), three do not, so the optimum is 3 crossbars. Counting: 8
    axons in demand (a, b once each, 6 private) -> 2 crossbars; no pair conflicts. The
    source cover: a's six targets need 3 crossbars, b's too, each private source 1: 12
    axons -> 3 crossbars."""
    priv = [f"x{i}" for i in range(6)]
    ins = ("a", "b", *priv)
    edges = tuple((s, f"n{i}") for i in range(6) for s in ("a", "b", priv[i]))
    g = Graph(ins + tuple(f"n{i}" for i in range(6)), edges, ins, name="shared-pair")
    lib = parse_library("homogeneous:4x8")
    inst = Instance(g, lib, external_inputs=True)
    assert area_bound(inst) == 2 * 32 and conflict_bound(inst) <= 32
    assert source_cover_bound(inst)[0] == 3 * 32
    res = map_network(g, lib, time_limit=5, workers=1, external_inputs=True)
    assert (res.area, res.lower_bound, res.lower_bound_source, res.status) == (96, 96, "source-cover", "OPTIMAL")


@pytest.mark.parametrize("seed", range(6))
def test_most_violated_matches_brute_force(seed):
    """max w(S) - price |own(S)| over the sets fitting (inputs, outputs), against enumeration."""
    rng = random.Random(seed)
    k = 9
    srcs = [frozenset(rng.sample(range(8), rng.randint(1, 4))) for _ in range(k)]
    own = [frozenset(rng.sample(sorted(s), rng.randint(1, len(s)))) for s in srcs]
    w = [rng.choice([0.0, 2 * rng.random()]) for _ in range(k)]

    def union(sets, s):
        return frozenset().union(*[sets[i] for i in s])

    for inputs, outputs, price in ((4, 3, 0.5), (5, 9, 0.3), (8, 2, 1.0), (8, 9, 0.0)):
        best = max(sum(w[i] for i in s) - price * len(union(own, s)) for r in range(k + 1)
                   for s in itertools.combinations(range(k), r)
                   if len(s) <= outputs and len(union(srcs, s)) <= inputs)
        s, v, exact = most_violated(w, srcs, own, inputs, outputs, price)
        assert exact and v == pytest.approx(best)
        assert v == pytest.approx(sum(w[i] for i in s) - price * len(union(own, s)))
        assert len(s) <= outputs and len(union(srcs, s)) <= inputs


@pytest.mark.parametrize(("seed", "opt"), SMALL[8:])
def test_colgen_from_the_source_cover_centre_stays_valid(seed, opt):
    """Column generation started at the source-cover duals (`center=`) begins at their sum
    and never ends above the enumerated optimum."""
    from spikeloom.hw.colgen import colgen_area_bound
    from spikeloom.hw.heuristic import construct

    inst = Instance(synthetic_network(9, 16, 4, seed=seed, locality=0.3), parse_library("homogeneous:4x4"))
    _, pi, _ = source_cover_bound(inst)
    seen: list[float] = []
    lb, info, _ = colgen_area_bound(inst, construct(inst), time_limit=3, workers=1, center=pi, on_bound=seen.append)
    assert sum(pi) - 1e-9 <= info["raw_bound"] and lb <= 16 * opt
    assert all(b <= 16 * opt for b in seen)
