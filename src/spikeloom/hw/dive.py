"""Primal mappings read off the set-covering LP's columns: price-and-dive (`dive`, and
`dive_down` / `background_dive` that repeat it below each mapping found) and
price-and-branch (`best_cover`, CP-SAT over the generated columns)."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from functools import reduce

from spikeloom.hw.instance import Bin, Instance
from spikeloom.hw.master import Column, Master, partition
from spikeloom.hw.pricing import exact_pricing, greedy_columns
from spikeloom.hw.repack import BackgroundSearch, pack

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


def dive(inst: Instance, columns: list[Column], time_limit: float, target: float,
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
        master = Master(inst, cols)
        pi = master.solve()[0] if master.ok else None
        if pi is None:
            return None
        if len(cols) > 2000:  # keep the columns within reach of the LP: 5x faster master solves
            master = Master(inst, [(t, ns) for t, ns in cols
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
                bins = partition([keys[i] for i in fixed + [i for _, i in free]])
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


def _finish_back(inst: Instance, fixed: list[Column], target: float, t_end: float,
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
            bins = partition(keep) + tail
            if inst.is_valid(bins) and inst.metrics(bins)["area"] <= target:
                return bins
        if len(inst.types) == 1:  # the whole mapping re-packed by tabu search from here
            k = int(target // inst.types[0].cost)
            groups = [list(b.neurons) for b in partition(keep)]
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


def _price_rest(inst: Instance, master: Master, covered: set[int], fixed_area: float, target: float,
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
                for col in greedy_columns(inst, t, pi, seeds=60, deadline=t_end):
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
            col, ub = exact_pricing(inst, t, pi, min(PRICING_TIME, max(0.05, t_end - time.perf_counter())), workers)
            alpha = max(alpha, ub / ct.cost)
            if col and sum(pi[p] for p in col) > ct.cost * (1 + 1e-6):
                added += master.add(t, col)
        if fixed_area + sum(pi) / alpha > target * (1 + 1e-9):
            return math.inf  # dead end: no mapping of area <= target extends the fixed columns
        if not added:
            return value


def best_cover(inst: Instance, columns: list[Column], time_limit: float,
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
    return partition([col for c, col in enumerate(columns) if solver.Value(z[c])])


def dive_down(inst: Instance, columns: list[Column], value: float, lb: float, t_end: float, seed: int,
              stop: Callable[[], bool] | None = None, explore: bool = False,
              log: Callable[[list[Bin]], None] | None = None) -> list[Bin] | None:
    """Price-and-dive (`dive`) for a mapping cheaper than `value`, again below each one
    found (each passed to `log`), until `lb`, `t_end` (time.perf_counter()) or `stop()`;
    the cheapest found or None."""
    g = reduce(math.gcd, (t.cost for t in inst.types))
    best = None
    while value > lb and t_end - time.perf_counter() > 1.0:
        out = dive(inst, columns, t_end - time.perf_counter(), max(lb, value - g), seed=seed, stop=stop,
                   explore=explore)
        if out is None:
            break
        best, value = out, inst.metrics(out)["area"]
        if log is not None:
            log(best)
    return best


def background_dive(inst: Instance, columns: list[Column], bins: list[Bin], lb: float, t_end: float,
                    seed: int) -> BackgroundSearch:
    """`dive_down` below `bins` in a forked child (homogeneous library), its first column
    picked at random near the largest so that it explores other dives than the parent's;
    it stops at `lb`, `t_end` or when cancelled."""
    cost = inst.types[0].cost
    best = [len(bins)]

    def search(log: Callable[[list[Bin]], None], goal: Callable[[], int]) -> None:
        def keep(b: list[Bin]) -> None:
            best[0] = len(b)
            log(b)

        # goal: the parent's bound, raised while it searches (cancel() raises it above any count)
        dive_down(inst, columns, len(bins) * cost, lb, t_end, seed, explore=True, log=keep,
                  stop=lambda: best[0] <= goal())

    return BackgroundSearch(inst, bins, t_end - time.perf_counter(), math.ceil(lb / cost - 1e-9), search)
