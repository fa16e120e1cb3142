"""Pricing for the set-covering LP of crossbar mapping (used by the bound in colgen.py and
by the dive in dive.py): for crossbar size t and neuron duals pi, max pi(S) over neuron sets
S with |S| <= N_t and |union of their sources| <= A_t (a set-union knapsack). Greedy
columns (fast, no bound) and exact pricing (SCIP, CP-SAT fallback) with a proven upper bound."""

from __future__ import annotations

import bisect
import math
import time

from spikeloom.hw.instance import Instance


def greedy_columns(inst: Instance, t: int, pi: list[float], seeds: int,
                    deadline: float = math.inf) -> list[tuple[int, ...]]:
    """Greedy columns from the `seeds` best neurons (by pi per input). A step takes the
    neuron q whose missing inputs D = src(q) - axons bring the most dual value per new
    axon, counting every neuron that D completes (q and the "free riders" whose inputs are
    then all present), not q alone; completed neurons join while outputs are left
    (highest pi first). Neurons without inputs ride free. Stops with the columns built so far
    at `deadline` (time.perf_counter()): with wide fan-ins one column can take seconds."""
    ct = inst.types[t]
    src, tgt = inst.src, inst.tgt
    smask = inst.src_masks  # "all of r's inputs present" is one AND, a missing count one popcount
    ok = [pi[p] > 1e-9 and inst.fanin[p] <= ct.inputs for p in range(inst.n)]
    cand = [p for p in range(inst.n) if ok[p]]
    cand.sort(key=lambda p: -pi[p] / (inst.fanin[p] + 0.25))
    free = sorted((p for p in cand if inst.fanin[p] == 0), key=lambda p: -pi[p])
    cols: list[tuple[int, ...]] = []
    seen: set[tuple[int, ...]] = set()
    for s0 in cand[:seeds]:
        if time.perf_counter() > deadline:
            break
        if inst.fanin[s0] == 0:
            continue
        group, ax = [s0], set(src[s0])
        axm = smask[s0]
        inside = {s0}
        # neurons whose inputs are all present already (they join for free)
        ready = {q for v in ax for q in tgt[v] if ok[q] and q != s0 and not smask[q] & ~axm}
        while len(group) < ct.outputs:
            room = ct.inputs - len(ax)
            if ready:  # best pi first
                q = max(ready, key=lambda q: pi[q])
                ready.discard(q)
                group.append(q)
                inside.add(q)
                continue
            best_q, best_v = -1, 0.0
            pool = {q for v in ax for q in tgt[v] if ok[q] and q not in inside}
            more = len(group) + 1 < ct.outputs
            for q in pool:
                if time.perf_counter() > deadline:
                    break
                mq = smask[q] & ~axm  # q's missing inputs
                n_miss = mq.bit_count()
                if n_miss > room:
                    continue
                gain = pi[q]
                if more and mq:  # neurons completed by q's missing inputs
                    cover = axm | smask[q]
                    extra = {r for u in src[q] if mq >> u & 1 for r in tgt[u]
                             if ok[r] and r != q and r not in inside and not smask[r] & ~cover}
                    if extra:
                        gain += sum(sorted((pi[r] for r in extra), reverse=True)[: ct.outputs - len(group) - 1])
                val = gain / (n_miss + 0.25)
                if val > best_v:
                    best_q, best_v = q, val
            for q in cand:  # best unrelated neuron: first in ratio order that fits
                if q not in inside and q not in pool and 0 < inst.fanin[q] <= room:
                    if pi[q] / (inst.fanin[q] + 0.25) > best_v:
                        best_q = q
                    break
            if best_q < 0:
                break
            group.append(best_q)
            inside.add(best_q)
            ready.discard(best_q)
            new = [u for u in src[best_q] if u not in ax]
            ax.update(new)
            axm |= smask[best_q]
            for u in new:
                for r in tgt[u]:
                    if ok[r] and r not in inside and not smask[r] & ~axm:
                        ready.add(r)
        for q in free:  # neurons without inputs fill the spare outputs
            if len(group) >= ct.outputs:
                break
            if q not in inside:
                group.append(q)
                inside.add(q)
        col = tuple(sorted(group))
        if col not in seen:
            seen.add(col)
            cols.append(col)
    return cols


SCIP_PARAMS = "separating/maxrounds = 0\n"
ENUM_MAX_OUTPUTS = 4  # sizes with at most this many outputs are priced by enumeration first (table2 reduced: A x 4)
# search nodes before enumeration gives up (then SCIP, about 0.2 s): on table2 presets A and D
# (20 s of column generation) 16-18 of about 40 4x4 pricings needed more than 200,000 nodes,
# at most 2 more than 1,000,000 (0.1-0.3 s of enumeration)
ENUM_NODES = 1_000_000


def enum_pricing(inst: Instance, t: int, pi: list[float], nodes: int = ENUM_NODES,
                 pool: list[tuple[int, ...]] | None = None) -> tuple[tuple[int, ...] | None, float] | None:
    """Exact pricing for a size with few outputs by depth-first enumeration: neurons in
    order of falling pi, each set extended only by later neurons whose sources still fit,
    a branch cut once its value plus (outputs left) x (pi of the next neuron) cannot beat
    the best set (pi falls along the order, so no later extension can). The last output is
    filled directly by the first later neuron that fits (`last_pick`, from the neurons with
    few enough sources and those sharing one): on table2 fresh seed 7006's 4x4 pricings,
    which had run past 1,000,000 nodes, 2.5-4x faster with the same values. Returns (best set,
    upper bound on max pi(S)) when the search completes within `nodes` nodes, else None
    (the caller then solves the MIP). Every improving set before the best goes to `pool`.
    Table2's A x 4 sizes: a 32-input crossbar takes the four largest pi at once and the
    8- and 16-input ones finish in tens of milliseconds where SCIP took 0.2-0.4 s per size."""
    ct = inst.types[t]
    cand = sorted((p for p in range(inst.n) if pi[p] > 1e-9 and inst.fanin[p] <= ct.inputs),
                  key=lambda p: (-pi[p], p))
    src = [frozenset(inst.src[p]) for p in cand]
    val = [pi[p] for p in cand]
    n_out, n_in = ct.outputs, ct.inputs
    narrow: dict[int, list[int]] = {}  # room -> ranks of the candidates with at most that many sources
    readers: dict[int, list[int]] = {}  # source -> ranks of the candidates reading it (both ascending)
    for i, p in enumerate(cand):
        for v in inst.src[p]:
            readers.setdefault(v, []).append(i)

    def last_pick(i1: int, ax: frozenset) -> int | None:
        """The first candidate from rank i1 on that fits beside the axons `ax`, i.e. the best
        single addition: one with at most `room` sources, or one reading a source of ax whose
        other sources fit (a candidate sharing none brings all of its own)."""
        room = n_in - len(ax)
        if room not in narrow:
            narrow[room] = [i for i, p in enumerate(cand) if inst.fanin[p] <= room]
        lst = narrow[room]
        k = bisect.bisect_left(lst, i1)
        best = lst[k] if k < len(lst) else len(cand)
        for v in ax:
            rs = readers.get(v, [])
            for j in rs[bisect.bisect_left(rs, i1):]:
                if j >= best:
                    break
                if len(ax | src[j]) <= n_in:
                    best = j
                    break
        return best if best < len(cand) else None

    best_val, best_set = 0.0, ()
    found: list[tuple[int, ...]] = []
    count = 0
    stack: list[tuple[int, frozenset, float, tuple[int, ...]]] = [(0, frozenset(), 0.0, ())]
    while stack:
        i0, ax, value, chosen = stack.pop()
        left = n_out - len(chosen)
        for i in range(i0, len(cand)):
            count += 1
            if count > nodes:
                return None
            if value + val[i] * left <= best_val + 1e-12:
                break  # pi falls along the order: nothing later beats the best
            new = ax | src[i]
            if len(new) > n_in:
                continue
            v2, c2 = value + val[i], chosen + (cand[i],)
            if v2 > best_val + 1e-12:
                best_val, best_set = v2, c2
                found.append(tuple(sorted(c2)))
            if left == 2:  # one output left: its best filler is the first candidate that fits
                j = last_pick(i + 1, new)
                if j is not None and v2 + val[j] > best_val + 1e-12:
                    best_val, best_set = v2 + val[j], c2 + (cand[j],)
                    found.append(tuple(sorted(best_set)))
            elif left > 2:
                stack.append((i + 1, new, v2, c2))
    if not best_set:
        return None, 0.0
    if pool is not None:
        pool.extend(found[:-1])
    return tuple(sorted(best_set)), best_val * (1 + 1e-9) + 1e-12


def dominance(inst: Instance, cand: list[int], pi: list[float]) -> list[tuple[int, int]]:
    """Pairs (p, q): x_p <= x_q may be added to the pricing problem without lowering its
    maximum. q dominates p when src(q) is a subset of src(p) and q ranks higher by
    (pi, -index): in any feasible set holding p but not q, swapping p for q keeps the axons
    within those of the set (src(q) is already there) and does not lower pi(S); each swap
    raises the sorted ranks of the set, so swapping until no pair is violated ends at a
    feasible set at least as good that satisfies every pair. Neurons without inputs are
    chained by rank, and each other neuron is tied to the lowest-ranked input-free neuron
    above it (the chain implies the rest)."""
    key = {p: (pi[p], -p) for p in cand}
    free = sorted((p for p in cand if not inst.src[p]), key=lambda p: key[p], reverse=True)
    pairs = list(zip(free[1:], free[:-1], strict=True))
    others = [p for p in cand if inst.src[p]]
    for p in others:
        above = [q for q in free if key[q] > key[p]]
        if above:
            pairs.append((p, above[-1]))
    srcset = {p: frozenset(inst.src[p]) for p in others}
    for p in others:  # a dominating q shares p's sources: look among their targets only
        near = {q for v in inst.src[p] for q in inst.tgt[v]}
        for q in sorted(near):
            if q != p and q in srcset and key[q] > key[p] and srcset[q] <= srcset[p]:
                pairs.append((p, q))
    return pairs


def exact_pricing(inst: Instance, t: int, pi: list[float], time_limit: float,
                   workers: int, pool: list[tuple[int, ...]] | None = None
                   ) -> tuple[tuple[int, ...] | None, float]:
    """(best set found, upper bound on max pi(S)) for size t.

    A MIP solved by SCIP: on this set-union knapsack its cuts close the gap in seconds where
    CP-SAT's bound stays several times too high (measured on preset E's final duals: SCIP
    optimal in 7 s, CP-SAT bound 5.1 vs optimum 1.21 after 20 s). CP-SAT is the fallback
    when the OR-Tools build has no SCIP."""
    ct = inst.types[t]
    cand = [p for p in range(inst.n) if pi[p] > 1e-9 and inst.fanin[p] <= ct.inputs]
    if not cand:
        return None, 0.0
    trivial = sum(sorted((pi[p] for p in cand), reverse=True)[: ct.outputs])
    if ct.outputs <= ENUM_MAX_OUTPUTS:
        found = enum_pricing(inst, t, pi, pool=pool)
        if found is not None:
            return found
    from ortools.linear_solver import pywraplp

    solver = pywraplp.Solver.CreateSolver("SCIP")
    if solver is None:
        return exact_pricing_cpsat(inst, t, pi, time_limit, workers)
    # x[p] = 1: neuron p is in the crossbar; s[v] = 1: node v is one of its axons
    x = {p: solver.BoolVar(f"x{p}") for p in cand}
    s: dict[int, object] = {}
    for p in cand:
        for v in inst.src[p]:
            if v not in s:
                s[v] = solver.BoolVar(f"s{v}")
            solver.Add(x[p] <= s[v])
    solver.Add(solver.Sum(list(x.values())) <= ct.outputs)
    solver.Add(solver.Sum(list(s.values())) <= ct.inputs)
    for p, q in dominance(inst, cand, pi):
        solver.Add(x[p] <= x[q])
    solver.Maximize(solver.Sum([pi[p] * x[p] for p in cand]))
    solver.SetTimeLimit(max(50, int(1000 * time_limit)))
    # cuts at the root only: on preset E's pricings 3.8 s instead of 6.9 s (with the
    # dominance rows 2.6 s), same optimum
    solver.SetSolverSpecificParametersAsString(SCIP_PARAMS)
    code = solver.Solve()
    if code not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return None, trivial
    best = tuple(sorted(p for p in cand if x[p].solution_value() > 0.5))
    # the dual bound, not the incumbent: "OPTIMAL" allows pywraplp's default relative gap
    ub = solver.Objective().BestBound()
    value = sum(pi[p] for p in best)
    if not inst.fits(t, best):  # never trust a MIP solution blindly
        best, value = (), 0.0
    if pool is not None:  # SCIP's other stored solutions (its earlier incumbents): more columns per call
        while solver.NextSolution():
            col = tuple(sorted(p for p in cand if x[p].solution_value() > 0.5))
            if col and col != best and inst.fits(t, col):
                pool.append(col)
    # slack for the MIP's feasibility tolerances
    return (best or None), min(trivial, max(ub, value) * (1 + 1e-6) + 1e-9)


def exact_pricing_cpsat(inst: Instance, t: int, pi: list[float], time_limit: float,
                         workers: int) -> tuple[tuple[int, ...] | None, float]:
    from ortools.sat.python import cp_model

    ct = inst.types[t]
    cand = [p for p in range(inst.n) if pi[p] > 1e-9 and inst.fanin[p] <= ct.inputs]
    if not cand:
        return None, 0.0
    scale = 10_000 / max(pi[p] for p in cand)
    m = cp_model.CpModel()
    # x[p] = 1: neuron p is in the crossbar; s[v] = 1: node v is one of its axons
    x = {p: m.NewBoolVar(f"x{p}") for p in cand}
    s = {}
    for p in cand:
        for v in inst.src[p]:
            if v not in s:
                s[v] = m.NewBoolVar(f"s{v}")
            m.AddImplication(x[p], s[v])
    m.Add(sum(x.values()) <= ct.outputs)
    m.Add(sum(s.values()) <= ct.inputs)
    w = {p: math.floor(pi[p] * scale) for p in cand}  # floor: exact value computed below
    slack = len(cand)  # floor loses < 1 per chosen neuron; at most N_t chosen
    m.Maximize(sum(w[p] * x[p] for p in cand))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.05, time_limit)
    solver.parameters.num_workers = workers
    code = solver.Solve(m)
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None, sum(sorted((pi[p] for p in cand), reverse=True)[: ct.outputs])
    best = tuple(sorted(p for p in cand if solver.Value(x[p])))
    ub = (solver.BestObjectiveBound() + min(slack, ct.outputs)) / scale
    return best, ub
