"""A stronger area lower bound: the LP relaxation of the set-covering formulation (one
column per feasible crossbar content), solved by column generation.

Master LP (GLOP): min sum_c C_c lambda_c  s.t.  sum_{c contains p} lambda_c >= 1 for every
neuron p, lambda >= 0. Pricing for size t: max pi(S) over neuron sets S with |S| <= N_t and
|union of their inputs| <= A_t (greedy first, CP-SAT when greedy finds nothing). At any
iteration the duals pi give a valid bound by Farley's argument: scaling pi by
alpha = max_t (upper bound on max pi(S) for t) / C_t makes it dual feasible, so
area >= sum(pi) / max(1, alpha). The CP-SAT pricing bound keeps this valid even when the
pricing problem is not solved to optimality. Crossbar counts are relaxed (still a bound).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable
from functools import reduce

from spikeloom.hw.instance import Bin, Instance
from spikeloom.hw.repack import pack


def _greedy_columns(inst: Instance, t: int, pi: list[float], seeds: int,
                    deadline: float = math.inf) -> list[tuple[int, ...]]:
    """Greedy columns from the `seeds` best neurons (by pi per input). A step takes the
    neuron q whose missing inputs D = src(q) - axons bring the most dual value per new
    axon, counting every neuron that D completes (q and the "free riders" whose inputs are
    then all present), not q alone; completed neurons join while outputs are left
    (highest pi first). Neurons without inputs ride free. Stops with the columns built so far
    at `deadline` (time.perf_counter()): with wide fan-ins one column can take seconds."""
    ct = inst.types[t]
    src = inst.src
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
        inside = {s0}
        # neurons whose inputs are all present already (they join for free)
        ready = {q for v in ax for q in inst.tgt[v] if ok[q] and q != s0 and all(u in ax for u in src[q])}
        while len(group) < ct.outputs:
            room = ct.inputs - len(ax)
            if ready:  # best pi first
                q = max(ready, key=lambda q: pi[q])
                ready.discard(q)
                group.append(q)
                inside.add(q)
                continue
            best_q, best_v = -1, 0.0
            pool = {q for v in ax for q in inst.tgt[v] if ok[q] and q not in inside}
            for q in pool:
                if time.perf_counter() > deadline:
                    break
                miss = [u for u in src[q] if u not in ax]
                if len(miss) > room:
                    continue
                missing = set(miss)
                gain = pi[q]
                if len(group) + 1 < ct.outputs:  # neurons completed by q's missing inputs
                    extra = set()
                    for u in miss:
                        for r in inst.tgt[u]:
                            if ok[r] and r != q and r not in inside and all(w in ax or w in missing for w in src[r]):
                                extra.add(r)
                    if extra:
                        gain += sum(sorted((pi[r] for r in extra), reverse=True)[: ct.outputs - len(group) - 1])
                val = gain / (len(miss) + 0.25)
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
            for u in new:
                for r in inst.tgt[u]:
                    if ok[r] and r not in inside and all(w in ax for w in src[r]):
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


def _dominance(inst: Instance, cand: list[int], pi: list[float]) -> list[tuple[int, int]]:
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
    for p in others:
        for q in others:
            if q != p and key[q] > key[p] and srcset[q] <= srcset[p]:
                pairs.append((p, q))
    return pairs


def _exact_pricing(inst: Instance, t: int, pi: list[float], time_limit: float,
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
    from ortools.linear_solver import pywraplp

    solver = pywraplp.Solver.CreateSolver("SCIP")
    if solver is None:
        return _exact_pricing_cpsat(inst, t, pi, time_limit, workers)
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
    for p, q in _dominance(inst, cand, pi):
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


def _exact_pricing_cpsat(inst: Instance, t: int, pi: list[float], time_limit: float,
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


class _Master:
    """Restricted master LP (GLOP), grown column by column: min sum C_c lambda_c s.t. every
    neuron covered at least once, lambda >= 0. Starts with every neuron alone, then `columns`."""

    def __init__(self, inst: Instance, columns: Iterable[tuple[int, tuple[int, ...]]] = ()) -> None:
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
        self.keys: dict[tuple[int, tuple[int, ...]], int] = {}
        self.vars: list = []
        self.costs: list[float] = []
        self.optimal = pywraplp.Solver.OPTIMAL
        for p in range(inst.n):  # singletons on the cheapest size that takes p: always feasible
            self.add(min(inst.allowed[p], key=lambda t: inst.types[t].cost), (p,))
        for t, ns in columns:
            self.add(t, ns)

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

    def columns(self, more: Iterable[tuple[int, tuple[int, ...]]] = ()) -> list[tuple[int, tuple[int, ...]]]:
        """Its columns, then those of `more` it does not hold."""
        return list(self.keys) + [c for c in more if c not in self.keys]

    def solve(self) -> tuple[list[float] | None, float]:
        """(row duals clipped at 0, LP value), or (None, inf)."""
        if self.solver.Solve() != self.optimal:
            return None, math.inf
        return [max(0.0, r.dual_value()) for r in self.rows], self.obj.Value()


def colgen_area_bound(inst: Instance, start: list[Bin], time_limit: float, workers: int = 2, *,
                      seeds: int | None = None, pricing_time: float = 20.0, smooth: float = 0.5,
                      target: float | Callable[[], float] | None = None,
                      on_bound: Callable[[float], None] | None = None,
                      on_columns: Callable[[list[tuple[int, tuple[int, ...]]]], None] | None = None
                      ) -> tuple[float, dict[str, float], list[tuple[int, tuple[int, ...]]]]:
    """(valid lower bound on area, info, generated columns). Bound 0 when GLOP is missing.

    Phase 1: greedy pricing at duals smoothed towards the previous pricing point (Neame),
    falling back to the LP duals when that finds no column (mis-pricing), until greedy
    finds nothing at the LP duals. Phase 2: exact pricing (SCIP) at duals smoothed towards
    the duals of the best bound so far (Wentges): each call proves a Farley/Lagrangian
    bound at its duals and adds its column where that improves the LP; the master's
    degenerate duals alone gave alpha 1.04-1.06 on preset A for minutes while the LP value
    did not move. Stops when the bound reaches `target` (the incumbent's area), when the
    LP is proven optimal, when the master's LP value rounds up to the bound (no bound from
    this LP can be higher), or after `time_limit` s. `target` may be a callable (an incumbent
    another process is still improving); `on_bound` sees every improved (rounded) bound,
    `on_columns` the columns once phase 1 is over. The start mapping's columns are kept
    out of the master (at a near-optimal start the master stays degenerate at the start's
    value: preset A stuck at 17.0 for 25 s) and only returned with the others."""
    t_end = time.perf_counter() + time_limit
    types = inst.types
    g = reduce(math.gcd, (t.cost for t in types))
    k_max = inst.n  # every used crossbar holds a neuron
    if start:
        k_max = min(k_max, sum(types[b.type].cost for b in start) // min(t.cost for t in types))
    goal = None if target is None else (target if callable(target) else (lambda: target))
    master = _Master(inst)
    if not master.ok:
        return 0.0, {}, []
    extra = [(b.type, tuple(sorted(b.neurons))) for b in start]

    if seeds is None:
        # homogeneous: 200 greedy seeds, not 1,000: greedy pricing took 44% of A's time
        # (time to the bound 17 on one core: 32-50 s -> 18 s; D's 18: 41 s -> 22 s; E's 18: 20 s)
        seeds = 200 if len(types) == 1 else 1000
    per_type = max(30, seeds // len(types))  # mixed libraries: fewer seeds per size
    phase1_end = time.perf_counter() + 0.5 * time_limit  # leave time for exact pricing

    def price_greedy(pi_at: list[float], pi_lp: list[float]) -> int:
        n_added = 0
        for t, ct in enumerate(types):
            if time.perf_counter() > t_end:
                break
            for col in _greedy_columns(inst, t, pi_at, seeds=per_type, deadline=t_end):
                if sum(pi_lp[p] for p in col) > ct.cost * (1 + 1e-6):
                    n_added += master.add(t, col)
        return n_added

    best_lb = 0.0
    lp_value = math.inf
    iters = exact_calls = 0
    sep: list[float] | None = None  # phase 1 pricing point
    center: list[float] | None = None  # phase 2: duals of the best bound
    a = smooth
    phase = 1
    proven_lp = False
    while time.perf_counter() < t_end:
        iters += 1
        pi_lp, lp_value = master.solve()
        if pi_lp is None:
            break
        if phase == 1:
            cur = pi_lp if sep is None else [smooth * u + (1 - smooth) * w for u, w in zip(sep, pi_lp, strict=True)]
            added = price_greedy(cur, pi_lp)
            if not added and sep is not None:  # mis-pricing: price at the LP duals
                cur = pi_lp
                added = price_greedy(cur, pi_lp)
            sep = cur
            if added and time.perf_counter() < phase1_end:
                continue
            phase = 2
            if on_columns is not None:
                on_columns(master.columns(extra))
        else:
            if price_greedy(pi_lp, pi_lp):  # cheap columns first
                continue
        # phase 2: exact pricing at pi = a * center + (1 - a) * pi_lp (any pi >= 0 is valid)
        remaining = t_end - time.perf_counter()
        if remaining <= 0.05:
            break
        pi = pi_lp if center is None else [a * u + (1 - a) * w for u, w in zip(center, pi_lp, strict=True)]
        exact_calls += 1
        alpha = 1.0
        excess = 0.0  # max over sizes of (best column value - its cost), Lagrangian form
        added = 0
        for t, ct in enumerate(types):
            limit = min(max(0.05, (t_end - time.perf_counter()) / (len(types) - t)), pricing_time)
            pool: list[tuple[int, ...]] | None = [] if len(types) == 1 else None
            col, ub = _exact_pricing(inst, t, pi, limit, workers, pool)
            alpha = max(alpha, ub / ct.cost)
            excess = max(excess, ub - ct.cost)
            for c in ([col] if col else []) + (pool or []):
                if sum(pi_lp[p] for p in c) > ct.cost * (1 + 1e-6):
                    added += master.add(t, c)
        # Farley: pi / alpha is dual feasible. Lagrangian: an optimal mapping uses at most
        # k_max crossbars (no more than the start's area allows), each covering at most
        # its cost + excess of dual value
        lb_here = max(sum(pi) / alpha, sum(pi) - k_max * excess)
        if lb_here > best_lb + 1e-9:
            best_lb, center = lb_here, pi
            if on_bound is not None:
                on_bound(g * math.ceil(best_lb / g - 1e-6))
        if pi is pi_lp and not added and alpha <= 1.0 + 1e-6:  # LP optimal: bound = LP value
            best_lb = max(best_lb, lp_value)
            proven_lp = True
            break
        if goal is not None and g * math.ceil(best_lb / g - 1e-6) >= goal():
            break
        if g * math.ceil(lp_value / g - 1e-6) <= g * math.ceil(best_lb / g - 1e-6):
            break  # the bound cannot rise: it never exceeds the LP, and this LP value is above the LP
        added += price_greedy(pi, pi_lp)  # columns near the smoothed point
        if not added:  # mis-pricing: move the pricing point towards the LP duals
            a *= 0.5
            if a < 0.05:
                a = 0.0
        if lb_here < best_lb - 1e-9 and a > 0:
            a = max(0.05, a * 0.8)
    info = {"lp_value": lp_value, "iterations": iters, "columns": len(master.keys), "raw_bound": best_lb,
            "exact_pricings": exact_calls, "lp_proven": float(proven_lp)}
    return g * math.ceil(best_lb / g - 1e-6), info, master.columns(extra)


# price-and-dive settings, tuned on preset D (16x16) over the columns of a 21 s column generation,
# a second process busy: 13 of 16 dives reached 18 crossbars within 36 s (16-30 s). Two exact
# pricings per step: 1 in 2 within 36 s (slower, same quality); keeping columns up to 0.2 of a
# crossbar's cost in reduced cost: 3 in 6.
GREEDY_ROUNDS = 8  # greedy pricing rounds per dive step
EXACT_PRICINGS = 1  # exact pricings per dive step (3 more while the LP is above the target)
PRICING_TIME = 1.0  # s per exact pricing in a dive (its best column is used even if unproven)
KEEP_RC = 0.1  # a dive keeps the columns whose reduced cost is within this share of their cost
MARGIN = 0.3  # abandon a dive when its LP estimate exceeds the target by this many of the cheapest crossbar
FINISH_NEURONS = 64  # neurons left when the dive hands over to CP-SAT / tabu search
FINISH_TIME = 2.0  # s per hand-over step: CP-SAT (at most FINISH_CP), then the tabu search (D: a failed hand-over took 13 s at 5.0)
FINISH_CP = 1.5
BACKTRACK = 1  # fixed columns freed again when the hand-over fails
FORBID = 1000.0  # cost factor of a column a re-dive must not use
DIVE_BACKTRACKS = 3  # then: dives again from two steps up, the last fixed column forbidden (up to 3 times)


def dive(inst: Instance, columns: list[tuple[int, tuple[int, ...]]], time_limit: float, target: float,
         workers: int = 1, seed: int = 0, stop: Callable[[], bool] | None = None,
         explore: bool = False) -> list[Bin] | None:
    """Price-and-dive: a mapping of area <= `target` read off the set-covering LP, or None.

    Solve the master LP over `columns`, fix the column with the largest lambda, re-price the
    neurons left (greedy, then a few short exact pricings), repeat. With FINISH_NEURONS
    neurons left, the rest is placed exactly (CP-SAT slot model) or, on a homogeneous
    library, the whole mapping is re-packed from the fixed columns by the tabu search of
    repack.py; when that fails, the dive goes on from two steps up with the last fixed column
    forbidden (DIVE_BACKTRACKS times). A dive is abandoned when its LP estimate is well above
    `target` or the fixed area plus a Farley bound on the rest exceeds it, and retried (with
    the columns priced so far, fixing a random column near the largest) while time is left and `stop()` is not
    true (it is asked once per step). `explore`: the first dive, too, starts from a random
    column near the largest (a second diver next to a first one). Preset D (16x16):
    the elimination stays at 19 crossbars (25 min tried), the LP is 17.7; dives give 18."""
    rng = random.Random(seed)
    t_end = time.perf_counter() + time_limit
    slack = 1e-6 * reduce(math.gcd, (t.cost for t in inst.types))
    cols = list(columns)
    attempt = 0

    def going() -> bool:
        return time.perf_counter() < t_end and not (stop is not None and stop())

    while going():
        master = _Master(inst, cols)
        pi = master.solve()[0] if master.ok else None
        if pi is None:
            return None
        if len(cols) > 2000:  # keep the columns within reach of the LP: 5x faster master solves
            master = _Master(inst, [(t, ns) for t, ns in cols
                                    if inst.types[t].cost - sum(pi[p] for p in ns) <= KEEP_RC * inst.types[t].cost])
        fixed: list[int] = []
        covered: set[int] = set()
        fixed_area = 0
        backtracks = 0
        while going():
            keys = list(master.keys)
            rest = [p for p in range(inst.n) if p not in covered]
            if len(rest) <= FINISH_NEURONS:  # the last few crossbars: CP-SAT, tabu search
                bins = _finish_back(inst, [keys[i] for i in fixed], target, t_end, workers, seed + attempt)
                if bins is not None:
                    return bins
                if backtracks >= DIVE_BACKTRACKS or len(fixed) < 2:
                    break
                # dive again from two steps up, without the last column fixed
                backtracks += 1
                for i in fixed[-2:]:
                    master.scale_cost(i, 1.0)
                master.scale_cost(fixed[-1], FORBID)
                fixed = fixed[:-2]
                covered = {p for i in fixed for p in keys[i][1]}
                fixed_area = sum(inst.types[keys[i][0]].cost for i in fixed)
                continue
            value = _price_rest(inst, master, covered, fixed_area, target, t_end, workers)
            if value > target + slack + MARGIN * min(t.cost for t in inst.types):
                break  # the LP is an estimate (pricing stops early): abandon only when well above
            keys = list(master.keys)
            lam = [v.solution_value() for v in master.vars]
            free = sorted(((x, i) for i, x in enumerate(lam) if x > 1e-6 and i not in fixed), reverse=True)
            if all(x > 1 - 1e-6 for x, _ in free):  # integral: the fixed and the chosen columns
                bins = _partition([keys[i] for i in fixed + [i for _, i in free]])
                if inst.is_valid(bins) and inst.metrics(bins)["area"] <= target:
                    return bins
                break
            near = [i for x, i in free if x >= free[0][0] - 0.1] if attempt or (explore and not fixed) else []
            i = rng.choice(near) if near else free[0][1]
            t, ns = keys[i]
            fixed.append(i)
            master.scale_cost(i, 0.0)
            covered.update(ns)
            fixed_area += inst.types[t].cost
        cols = list(master.keys)
        attempt += 1
    return None


def _partition(columns: list[tuple[int, tuple[int, ...]]]) -> list[Bin]:
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


def _finish_back(inst: Instance, fixed: list[tuple[int, tuple[int, ...]]], target: float, t_end: float,
                 workers: int, seed: int) -> list[Bin] | None:
    """The fixed columns plus an exact placement of the neurons they leave; when none fits
    in the area left, the last fixed columns are freed too (up to BACKTRACK of them)."""
    for back in range(BACKTRACK + 1):
        keep = fixed[: len(fixed) - back]
        covered = {p for _, ns in keep for p in ns}
        rest = [p for p in range(inst.n) if p not in covered]
        budget = target - sum(inst.types[t].cost for t, _ in keep)
        tail = _finish(inst, rest, [t for t, _ in keep], budget, min(FINISH_TIME, t_end - time.perf_counter()),
                       workers, seed)
        if tail is not None:
            bins = _partition(keep) + tail
            if inst.is_valid(bins) and inst.metrics(bins)["area"] <= target:
                return bins
        if len(inst.types) == 1:  # the whole mapping re-packed by tabu search from here
            k = int(target // inst.types[0].cost)
            groups = [list(b.neurons) for b in _partition(keep)]
            groups += [[] for _ in range(k - len(groups))]
            bins = pack(inst, groups, rest, min(t_end, time.perf_counter() + FINISH_TIME),
                        random.Random(seed), 10**9)
            if bins is not None:
                return bins
    return None


def _finish(inst: Instance, neurons: list[int], used: list[int], budget: float, time_limit: float,
            workers: int, seed: int) -> list[Bin] | None:
    """The cheapest placement of `neurons` within area `budget` on crossbars still available
    after `used` (type indices), solved by the CP-SAT slot model; None if none is found."""
    from spikeloom.hw.model import SlotModel

    if not neurons:
        return []
    if time_limit <= 0.05:
        return None
    slots: list[int] = []
    for t, ct in enumerate(inst.types):
        fit = sum(1 for p in neurons if inst.fanin[p] <= ct.inputs)
        k = min(int(budget // ct.cost), -(-fit // ct.outputs))
        if ct.count is not None:
            k = min(k, ct.count - used.count(t))
        slots += [t] * max(0, k)
    if not slots:
        return None
    sm = SlotModel(inst, neurons, slots, ("area",))
    # two CP-SAT workers even next to a busy second core: on a preset-D hand-over (56 neurons,
    # 4 crossbars) one worker found the placement in 1.5 s for 2 of 8 seeds, two for 6 of 6
    # in under 0.9 s with the other core busy
    out = sm.solve(sm.exprs["area"], min(time_limit, FINISH_CP), max(2, workers), seed, upper=int(budget))
    return out.bins


def _price_rest(inst: Instance, master: _Master, covered: set[int], fixed_area: float, target: float,
                t_end: float, workers: int) -> float:
    """Column generation for the neurons not `covered` by fixed columns: up to GREEDY_ROUNDS
    greedy pricings, then EXACT_PRICINGS short exact ones (more while the LP is above
    `target`). Returns the master LP value (solved after the last added column), or inf when
    the fixed area plus a Farley bound on the rest exceeds `target`."""
    exact = rounds = 0
    while True:
        pi_lp, value = master.solve()
        if pi_lp is None:
            return math.inf
        value += fixed_area  # fixed columns are priced at 0 in the master
        over = value > target * (1 + 1e-9)  # the LP is an estimate until pricing is exact
        if time.perf_counter() > t_end:
            return value
        pi = [0.0 if p in covered else v for p, v in enumerate(pi_lp)]
        if rounds < GREEDY_ROUNDS:
            rounds += 1
            added = 0
            for t, ct in enumerate(inst.types):
                for col in _greedy_columns(inst, t, pi, seeds=60, deadline=t_end):
                    if sum(pi[p] for p in col) > ct.cost * (1 + 1e-6):
                        added += master.add(t, col)
            if added:
                continue
        if exact >= EXACT_PRICINGS + (3 if over else 0):
            return value
        exact += 1
        alpha = 1.0
        added = 0
        for t, ct in enumerate(inst.types):
            col, ub = _exact_pricing(inst, t, pi, min(PRICING_TIME, max(0.05, t_end - time.perf_counter())), workers)
            alpha = max(alpha, ub / ct.cost)
            if col and sum(pi[p] for p in col) > ct.cost * (1 + 1e-6):
                added += master.add(t, col)
        if fixed_area + sum(pi) / alpha > target * (1 + 1e-9):
            return math.inf  # dead end: no mapping of area <= target extends the fixed columns
        if not added:
            return value


def best_cover(inst: Instance, columns: list[tuple[int, tuple[int, ...]]], time_limit: float,
               workers: int, seed: int, hint: list[Bin] | None = None) -> list[Bin] | None:
    """Price-and-branch: the cheapest selection of generated columns covering every neuron
    (CP-SAT), turned into a partition."""
    from ortools.sat.python import cp_model

    m = cp_model.CpModel()
    # z[c] = 1: crossbar content c is built
    z = [m.NewBoolVar(f"z{c}") for c in range(len(columns))]
    cover: list[list[int]] = [[] for _ in range(inst.n)]
    for c, (_t, ns) in enumerate(columns):
        for p in ns:
            cover[p].append(c)
    for p in range(inst.n):
        if not cover[p]:
            return None
        m.AddBoolOr([z[c] for c in cover[p]])
    for t, ct in enumerate(inst.types):
        if ct.count is not None:
            m.Add(sum(z[c] for c, (tt, _) in enumerate(columns) if tt == t) <= ct.count)
    m.Minimize(sum(inst.types[t].cost * z[c] for c, (t, _) in enumerate(columns)))
    if hint:
        index = {col: c for c, col in enumerate(columns)}
        chosen = {index.get((b.type, tuple(sorted(b.neurons)))) for b in hint}
        if None not in chosen:
            for c in range(len(columns)):
                m.AddHint(z[c], int(c in chosen))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.1, time_limit)
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    if solver.Solve(m) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return _partition([col for c, col in enumerate(columns) if solver.Value(z[c])])
