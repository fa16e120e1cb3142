"""The source-cover bound: a lower bound on area from one small covering LP per source,
cheap at any network size (no pricing over the whole network).

Every crossbar b of a mapping carries |U_b| <= A_b axons, so its cost C_b >= |U_b| C_b / A_b
and area >= sum_v sum_{b : v in U_b} C_b / A_b. The crossbars with source v among their
axons hold every target of v (a neuron sits on one crossbar and its sources are axons
there), and each holds a subset of T_v = targets(v) that fits its size. So the inner sum is
at least cover(v), the cheapest fractional cover of T_v by sets that fit some size t, a set
costing C_t / A_t (counts relaxed): area >= sum_v cover(v).

cover(v) is solved exactly as the dual of a small LP over the maximal sets of T_v per size
(max sum w s.t. w(S) <= C_t / A_t for every S fitting size t); where T_v has too many
maximal sets, w_p = min_t (C_t / A_t) / min(|T_v|, max N_t) instead (every set holds at most
that many of T_v: a valid, weaker dual). The neuron duals pi_p = sum_{v in src(p)} w_{v,p}
are feasible for the set-covering LP of colgen.py by construction (pi(S) <= |U_S| C_t / A_t
<= C_t for S on size t), so the bound is the Farley bound at pi with alpha <= 1 proven
without pricing, and pi is a valid stabilisation centre for column generation.
"""

from __future__ import annotations

import math
import time
from functools import reduce

from spikeloom.hw.instance import Instance

MAX_NODES = 20_000  # search nodes per separation (max w(S) over the sets of one source and size)
MAX_ROUNDS = 60  # cutting-plane rounds per source


def heaviest_set(weights: list[float], srcs: list[frozenset[int]], inputs: int, outputs: int,
                 nodes: int = MAX_NODES) -> tuple[tuple[int, ...], float, bool]:
    """(S, w(S), exact): the subset of indices with the largest total weight among those with
    |S| <= outputs and |union of srcs[i], i in S| <= inputs, by depth-first branch and bound
    (indices in order of falling weight; a branch is cut once its weight plus the next
    (outputs left) weights cannot beat the best). When the search passes `nodes` nodes, the
    best set found and exact False (then w(S) is not proven maximal)."""
    order = sorted((i for i in range(len(weights)) if weights[i] > 1e-12 and len(srcs[i]) <= inputs),
                   key=lambda i: -weights[i])
    wv = [weights[i] for i in order]
    best_val, best_set = 0.0, ()
    count = 0
    stack: list[tuple[int, frozenset[int], float, tuple[int, ...]]] = [(0, frozenset(), 0.0, ())]
    while stack:
        i0, ax, value, chosen = stack.pop()
        left = outputs - len(chosen)
        for j in range(i0, len(order)):
            count += 1
            if count > nodes:
                return best_set, best_val, False
            if value + sum(wv[j:j + left]) <= best_val + 1e-12:
                break  # weights fall along the order: nothing later beats the best
            new = ax | srcs[order[j]]
            if len(new) > inputs:
                continue
            v2, c2 = value + wv[j], chosen + (order[j],)
            if v2 > best_val + 1e-12:
                best_val, best_set = v2, c2
            if left > 1:
                stack.append((j + 1, new, v2, c2))
    return tuple(sorted(best_set)), best_val, True


def local_cover_dual(srcs: list[frozenset[int]], types: list[tuple[int, int, float]],
                     rounds: int = MAX_ROUNDS) -> list[float]:
    """A feasible dual w of the fractional cover of one source's targets (their source sets
    `srcs`) by sets fitting a size (inputs, outputs, price = C_t / A_t): max sum w s.t.
    w(S) <= price_t for every S fitting size t, by cutting planes (GLOP; separation by
    `heaviest_set`). w is scaled by the proven maximum of w(S) / price_t, so it is feasible
    even when the rounds run out or a separation stops early (then its maximum is taken as
    the sum of the heaviest outputs weights). Without GLOP: the uniform dual."""
    from ortools.linear_solver import pywraplp

    k = len(srcs)
    lo = min(p for _, _, p in types)
    uniform = [lo / min(k, max(o for _, o, _ in types))] * k
    solver = pywraplp.Solver.CreateSolver("GLOP")
    if solver is None:
        return uniform
    w = [solver.NumVar(0.0, solver.infinity(), "") for _ in range(k)]
    for i in range(k):  # every target fits alone on some size: w_i <= its cheapest price
        solver.Add(w[i] <= min(p for a, _, p in types if len(srcs[i]) <= a))
    solver.Maximize(solver.Sum(w))
    val = uniform
    for _ in range(rounds):
        if solver.Solve() != pywraplp.Solver.OPTIMAL:
            return uniform
        val = [max(0.0, x.solution_value()) for x in w]
        added = False
        for a, o, price in types:
            s, v, _ = heaviest_set(val, srcs, a, o)
            if v > price * (1 + 1e-9):
                solver.Add(solver.Sum([w[i] for i in s]) <= price)
                added = True
        if not added:
            break
    ratio = 1.0
    for a, o, price in types:
        _, v, exact = heaviest_set(val, srcs, a, o)
        if not exact:
            v = max(v, sum(sorted((val[i] for i in range(k) if len(srcs[i]) <= a), reverse=True)[:o]))
        ratio = max(ratio, v / price)
    out = [x / ratio for x in val]
    return out if sum(out) >= sum(uniform) else uniform


def source_cover_duals(inst: Instance, time_limit: float = 10.0) -> tuple[list[float], dict[str, float]]:
    """(pi, info): neuron duals pi_p = sum_{v in src(p)} w_{v,p}, feasible for the
    set-covering LP (see the module docstring), and counts of exact / uniform sources. Past
    `time_limit` s every remaining source takes the uniform dual."""
    t_end = time.perf_counter() + time_limit
    types = [t for t in inst.types if t.count is None or t.count > 0]
    price = min(t.cost / t.inputs for t in types)
    n_max = max(t.outputs for t in types)
    srcset = [frozenset(s) for s in inst.src]
    sizes = [(t.inputs, t.outputs, t.cost / t.inputs) for t in types]
    pi = [0.0] * inst.n
    exact = uniform = 0
    for targets in inst.tgt:
        if not targets:
            continue
        if time.perf_counter() < t_end:
            w = local_cover_dual([srcset[p] for p in targets], sizes)
            exact += 1
        else:
            w = [price / min(len(targets), n_max)] * len(targets)
            uniform += 1
        for i, p in enumerate(targets):
            pi[p] += w[i]
    return pi, {"source_exact": exact, "source_uniform": uniform}


def source_cover_bound(inst: Instance, time_limit: float = 10.0) -> tuple[int, list[float], dict[str, float]]:
    """(area bound rounded up to the costs' gcd, the duals pi, info)."""
    pi, info = source_cover_duals(inst, time_limit)
    g = reduce(math.gcd, (t.cost for t in inst.types))
    raw = sum(pi)
    info["source_raw"] = raw
    return g * math.ceil(raw / g - 1e-6), pi, info
