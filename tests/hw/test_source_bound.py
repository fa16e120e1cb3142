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
from spikeloom.hw.source_bound import heaviest_set, source_cover_bound

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
    lb, pi, info = source_cover_bound(inst)
    assert info["source_uniform"] == 0
    for t, s in _fitting_sets(inst):
        assert sum(pi[p] for p in s) <= inst.types[t].cost * (1 + 1e-9)
    assert info["source_raw"] == pytest.approx(sum(pi))
    assert sum(pi) <= _set_cover_lp(inst) * (1 + 1e-9)
    if library == "homogeneous:4x4":
        assert lb <= 16 * opt


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
def test_heaviest_set_matches_brute_force(seed):
    rng = random.Random(seed)
    k = 9
    srcs = [frozenset(rng.sample(range(8), rng.randint(1, 4))) for _ in range(k)]
    w = [rng.choice([0.0, rng.random()]) for _ in range(k)]
    for inputs, outputs in ((4, 3), (5, 9), (8, 2)):
        best = max(sum(w[i] for i in s) for r in range(k + 1) for s in itertools.combinations(range(k), r)
                   if len(s) <= outputs and len(frozenset().union(*[srcs[i] for i in s])) <= inputs)
        s, v, exact = heaviest_set(w, srcs, inputs, outputs)
        assert exact and v == pytest.approx(best) and sum(w[i] for i in s) == pytest.approx(v)
        assert len(s) <= outputs and len(frozenset().union(*[srcs[i] for i in s])) <= inputs
