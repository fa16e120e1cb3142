"""The restricted master LP of the set-covering formulation (one column per crossbar
content), shared by the column-generation bound (colgen.py) and the dive (dive.py)."""

from __future__ import annotations

import math
from collections.abc import Iterable

from spikeloom.hw.instance import Bin, Instance

Column = tuple[int, tuple[int, ...]]  # (crossbar type index, sorted neuron indices)


def exchanges(inst: Instance) -> list[tuple[int, int]]:
    """Pairs (q, p), q != p, with src(q) a subset of src(p): every crossbar content holding p
    may hold q instead (no new axon, the same outputs). Neurons with equal sources are chained
    in a cycle and strict subsets are taken between the first neurons of each source set, so
    the pairs imply all the others (pi_q <= pi_p is transitive)."""
    firsts: dict[tuple[int, ...], list[int]] = {}
    for p, ss in enumerate(inst.src):
        firsts.setdefault(ss, []).append(p)
    pairs = [(ps[i], ps[i - 1]) for ps in firsts.values() if len(ps) > 1 for i in range(len(ps))]
    reps = [(inst.src_masks[ps[0]], ps[0]) for ps in firsts.values()]
    pairs += [(q, p) for mq, q in reps for mp, p in reps if q != p and not mq & ~mp]
    return pairs


class Master:
    """Restricted master LP (GLOP), grown column by column: min sum C_c lambda_c s.t. every
    neuron covered at least once, lambda >= 0. Starts with every neuron alone, then `columns`.

    `exchange=True` adds, for each pair (q, p) of `exchanges`, a free variable covering q by
    uncovering p (cost 0): a solution using it maps to one without at the same cost (swap p
    for q in columns holding p), so the LP optimum is unchanged and a restricted LP value is
    still above it. In the dual these are pi_q <= pi_p, dual-optimal inequalities (Ben Amor,
    Desrosiers and Valerio de Carvalho 2006, there for cutting stock): they cut off the
    degenerate duals that overvalue neurons with few sources (colgen.py says where they are
    used). Not for the dive, which reads the columns' lambda as a mapping."""

    def __init__(self, inst: Instance, columns: Iterable[Column] = (), exchange: bool = False) -> None:
        from ortools.linear_solver import pywraplp

        self.inst = inst
        self.ok = False
        self.solver = pywraplp.Solver.CreateSolver("GLOP")
        if self.solver is None:
            return
        self.ok = True
        self.rows = [self.solver.Constraint(1.0, self.solver.infinity()) for _ in range(inst.n)]
        self.obj = self.solver.Objective()
        self.obj.SetMinimization()
        self.keys: dict[Column, int] = {}
        self.vars: list = []
        self.costs: list[float] = []
        self.optimal = pywraplp.Solver.OPTIMAL
        for p in range(inst.n):  # singletons on the cheapest size that takes p: always feasible
            self.add(min(inst.allowed[p], key=lambda t: inst.types[t].cost), (p,))
        for t, ns in columns:
            self.add(t, ns)
        for q, p in exchanges(inst) if exchange else ():
            var = self.solver.NumVar(0.0, self.solver.infinity(), "")
            self.rows[q].SetCoefficient(var, 1.0)
            self.rows[p].SetCoefficient(var, -1.0)

    def add(self, t: int, ns: tuple[int, ...]) -> bool:
        key = (t, tuple(sorted(ns)))
        if key in self.keys:
            return False
        var = self.solver.NumVar(0.0, self.solver.infinity(), "")
        for p in key[1]:
            self.rows[p].SetCoefficient(var, 1.0)
        self.obj.SetCoefficient(var, self.inst.types[t].cost)
        self.keys[key] = len(self.keys)
        self.vars.append(var)
        self.costs.append(self.inst.types[t].cost)
        return True

    def scale_cost(self, i: int, factor: float) -> None:
        """Column i's cost times `factor`: 0 fixes it (its neurons count as covered, the LP
        value leaves its cost out), a large factor forbids it, 1 restores it. A cost change
        keeps GLOP's warm start, a bound change does not (preset D's master: 0.04 s vs 0.9 s)."""
        self.obj.SetCoefficient(self.vars[i], factor * self.costs[i])

    def columns(self, more: Iterable[Column] = ()) -> list[Column]:
        """Its columns, then those of `more` it does not hold."""
        return list(self.keys) + [c for c in more if c not in self.keys]

    def solve(self) -> tuple[list[float] | None, float]:
        """(row duals clipped at 0, LP value), or (None, inf)."""
        if self.solver.Solve() != self.optimal:
            return None, math.inf
        return [max(0.0, r.dual_value()) for r in self.rows], self.obj.Value()


def partition(columns: list[Column]) -> list[Bin]:
    """Columns as crossbars, each neuron kept on the first column holding it (dropping a
    neuron never breaks a crossbar's capacity)."""
    done: set[int] = set()
    bins = []
    for t, ns in columns:
        keep = tuple(p for p in ns if p not in done)
        done.update(keep)
        if keep:
            bins.append(Bin(t, keep))
    return bins
