"""The connected-cover bound: a lower bound on area near the set-covering LP on large
homogeneous networks (TENNLab's 2,000-4,500 neurons), where column generation's pricing, a
MIP over the whole network, does not finish (SCIP's bound on flat_full_22 stayed 3.7x
too high after 60 s).

Homogeneous library: A axons, N outputs, cost C per crossbar; weights in axon units.

Axon LP: max sum_p w_p s.t. w(S) <= |U(S)| for every neuron set S fitting a crossbar,
w >= 0, w_p = 0 for neurons without sources. Any mapping has sum_p w_p = sum_b w(S_b) <=
sum_b |U_b| <= A x crossbars.

Connected sets suffice: neurons are adjacent when they read a common source, so the
components of any S have disjoint axon sets and w(S) - |U(S)| is the sum of their
excesses; a violated set has a violated component (and dropping its members of weight 0
loses no excess, so only neurons with w > 0 are enumerated). Separation enumerates every
connected set that fits, once each (ESU, Wernicke 2006: from each seed s, sets whose other
members come after s), pruning a branch once its axons overflow (supersets only add axons);
each seed's most violated set of each size becomes a cut. On a network of local reach the
sets are few: 19.8 million on flat_full_22 (16x16), 10-16 s a pass compiled (numba).

Certificate (Farley over components): with e(u, o) the largest excess of a connected set of
u axons and o neurons (the enumeration is exact), any fitting S is a union of components
with sum u <= A and sum o <= N, so w(S) <= M = max sum (u_i + e(u_i, o_i)) (a 2-D
knapsack, repeats allowed: an over-estimate). Then w A / max(A, M) is feasible for the
set-covering LP and area >= C sum w / max(A, M), for any w >= 0.

Certificate (repair): an exact pass also lists every violated connected set at w (a few
thousand near convergence on flat_full_22). The LP max sum y s.t. 0 <= y <= w, y(S) <=
|U(S)| on those sets gives y feasible for the axon LP: a set not listed holds at w, so at y.
It loses only what the violated sets need, where the scaling shrinks every neuron by the
worst one (flat_full_22 alone: 320 crossbars after 186 s, where scaling reached 300 in 240
s). The larger of the two counts.

Support: any w >= 0 is valid, w = 0 included, and neurons of weight 0 are never
enumerated. When the first exact pass would hold more than PASS_SHARE of the time's sets
(measured speed), only neurons of fan-in >= k are weighed, k the smallest fan-in whose
neurons have few enough sets: on the systolic network (32x32) the 2,768 fan-in-1 neurons
ride free on the others' axons in astronomically many sets (over 10^8 from a few seeds),
while the rest have 148 thousand, and their LP proves 359 crossbars against the source
cover's 343. The neurons left out still pay for their lone axons, the sources that no
weighed neuron reads: for y feasible with y = 0 off the support R and any fitting S,
y(S) = y(S - R) <= |U(S - R)|, and a lone source of a neuron in S is not in U(S - R), so
|U(S)| >= y(S) + (lone sources read in S). Any mapping's crossbars together read every
lone source at least once, so sum_b |U_b| >= sum y + (lone sources): on flat_full_18
(support fan-in >= 29) each fan-in-2 and fan-in-3 neuron's last source (the layer before,
read by it alone) is one.

Cutting planes with in-out stabilisation (Ben-Ameur and Neto): separation at x = a center
+ (1 - a) w_LP, where center is the best certified point, starting at the source-cover
duals (feasible for the axon LP by construction, source_bound.py)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from spikeloom.hw.bounds import cost_step, round_up
from spikeloom.hw.instance import Instance

IN_OUT = 0.5  # weight of the centre in the separation point
# passes in a row whose seeds stop at QUICK_CAP sets (cuts only), then one exact pass (cuts and
# the certificate): on flat_full_22 an exact pass takes ~10 s, a quick one ~2 s
QUICK_PASSES, QUICK_CAP = 2, 2000
CALIBRATION_SETS = 200_000  # sets enumerated once to measure the speed on this network (~0.2 s compiled)
PASS_SHARE = 1 / 6  # an exact pass may take this share of the time limit, else the support shrinks
VIOLATED_TOL = 1e-9  # excess (axons) above which a set counts as violated
VIOLATED_CELLS = 2**21  # room for violated sets kept per exact pass, (members + 1) per set; beyond it no repair


def _separate(w, sp, si, nbp, nbi, A, N, nwords, cap, seed_cap, best_exc, best_set, emax, viol, nviol):
    """Every connected set (neurons with w > 0, adjacent via a shared source) with at most A
    axons and N neurons, by ESU from each seed; per seed and number of neurons o its largest
    excess w(S) - |U(S)| (best_exc[s, o - 1], best_set[s, o - 1]), and emax[u, o] the
    largest excess of any set with u axons and o neurons; every set of excess > VIOLATED_TOL
    in the rows of viol (members, -1 padded, then u) while they last, nviol[0] counting all.
    Sources in CSR (sp, si: axon ids < 64 nwords), adjacency in CSR (nbp, nbi). Returns (sets
    visited, -1 past `cap`; exact: no seed stopped at `seed_cap` sets). Written for numba;
    runs as plain Python too."""
    n = w.shape[0]
    degree = 1
    for p in range(n):
        degree = max(degree, nbp[p + 1] - nbp[p] + 1)
    mark = np.full(n, -1, np.int64)  # > -1: in S or adjacent to it (ESU's closed set), by depth
    members = np.empty(N, np.int64)
    axons = np.zeros((N, nwords), np.uint64)
    value = np.zeros(N)
    ext = np.empty((N, n), np.int64)  # candidates per depth (ESU's extension set; each neuron once)
    elen = np.zeros(N, np.int64)
    epos = np.zeros(N, np.int64)
    closed = np.empty((N, degree), np.int64)  # neurons closed at each depth
    clen = np.zeros(N, np.int64)
    one = np.uint64(1)
    total = 0
    exact = True
    for s in range(n):
        best_set[s, :, :] = -1
        best_exc[s, :] = 0.0
        if sp[s + 1] == sp[s] or w[s] <= 0:
            continue
        total += 1
        members[0] = s
        axons[0, :] = 0
        for j in range(sp[s], sp[s + 1]):
            axons[0, si[j] >> 6] |= one << np.uint64(si[j] & 63)
        u0 = sp[s + 1] - sp[s]
        value[0] = w[s]
        best_exc[s, 0] = w[s] - u0
        best_set[s, 0, 0] = s
        if w[s] - u0 > VIOLATED_TOL:
            if nviol[0] < viol.shape[0]:
                viol[nviol[0], :] = -1
                viol[nviol[0], 0] = s
                viol[nviol[0], N] = u0
            nviol[0] += 1
        emax[u0, 1] = max(emax[u0, 1], w[s] - u0)
        mark[s] = 0
        closed[0, 0] = s
        clen[0] = 1
        elen[0] = 0
        for j in range(nbp[s], nbp[s + 1]):
            q = nbi[j]
            if mark[q] < 0:
                mark[q] = 0
                closed[0, clen[0]] = q
                clen[0] += 1
                if q > s and w[q] > 0:
                    ext[0, elen[0]] = q
                    elen[0] += 1
        epos[0] = 0
        d = 0
        count = 0
        while d >= 0:
            if d + 1 < N and epos[d] < elen[d] and total <= cap and count < seed_cap:
                q = ext[d, epos[d]]
                epos[d] += 1
                nd = d + 1
                axons[nd, :] = axons[d, :]
                for j in range(sp[q], sp[q + 1]):
                    axons[nd, si[j] >> 6] |= one << np.uint64(si[j] & 63)
                u = 0
                for k in range(nwords):
                    x = axons[nd, k]
                    while x:
                        x &= x - one
                        u += 1
                if u > A:
                    continue
                total += 1
                count += 1
                members[nd] = q
                value[nd] = value[d] + w[q]
                e = value[nd] - u
                emax[u, nd + 1] = max(emax[u, nd + 1], e)
                if e > VIOLATED_TOL:
                    if nviol[0] < viol.shape[0]:
                        viol[nviol[0], :] = -1
                        viol[nviol[0], :nd + 1] = members[:nd + 1]
                        viol[nviol[0], N] = u
                    nviol[0] += 1
                if e > best_exc[s, nd]:
                    best_exc[s, nd] = e
                    best_set[s, nd, :nd + 1] = members[:nd + 1]
                m = elen[d] - epos[d]
                ext[nd, :m] = ext[d, epos[d]:elen[d]]
                clen[nd] = 0
                for j in range(nbp[q], nbp[q + 1]):
                    r = nbi[j]
                    if mark[r] < 0:
                        mark[r] = nd
                        closed[nd, clen[nd]] = r
                        clen[nd] += 1
                        if r > s and w[r] > 0:
                            ext[nd, m] = r
                            m += 1
                elen[nd] = m
                epos[nd] = 0
                d = nd
            else:
                for k in range(clen[d]):
                    mark[closed[d, k]] = -1
                d -= 1
        if total > cap:
            return -1, False
        if count >= seed_cap:
            exact = False
    return total, exact


_KERNEL: list = []


def _kernel() -> tuple[object, bool]:
    """(the separation, compiled?): numba's compiled `_separate` (extra `fast`), else Python."""
    if not _KERNEL:
        try:
            from numba import njit
        except ImportError:
            _KERNEL.append((_separate, False))
        else:
            _KERNEL.append((njit(cache=True)(_separate), True))
    return _KERNEL[0]


@dataclass
class Separation:
    """One pass at a point w: per seed and size its most violated set, and the two
    certificates of an exact pass (module docstring; inf / None otherwise)."""

    sets: list[tuple[int, ...]]
    excess: float
    m: float  # max w(S) over every fitting S (axon units); inf when a seed's enumeration was cut short
    violated: np.ndarray | None  # every violated set: rows of members (-1 padded) then its axon count
    visited: int


class AxonNetwork:
    """The instance in the kernel's arrays: sources in CSR with compact axon ids, and each
    neuron's neighbours (neurons with sources that read a common source) in CSR."""

    def __init__(self, inst: Instance) -> None:
        t = inst.types[0]
        self.a, self.n_out, self.cost = t.inputs, t.outputs, t.cost
        self.n = inst.n
        self.src = [sorted(s) for s in inst.src]
        ids = {v: i for i, v in enumerate(sorted({v for s in self.src for v in s}))}
        self.sp = np.zeros(self.n + 1, np.int64)
        self.sp[1:] = np.cumsum([len(s) for s in self.src])
        self.si = np.array([ids[v] for s in self.src for v in s], np.int64)
        self.nwords = max(1, (len(ids) + 63) // 64)
        nb = []
        for p in range(self.n):
            near = {q for v in self.src[p] for q in inst.tgt[v] if q != p and inst.src[q]}
            nb.append(sorted(near))
        self.nbp = np.zeros(self.n + 1, np.int64)
        self.nbp[1:] = np.cumsum([len(x) for x in nb])
        self.nbi = np.array([q for x in nb for q in x], np.int64)

    def separate(self, w: np.ndarray, cap: float, seed_cap: int = 2**62) -> Separation | None:
        """The pass at w (axon units), or None past `cap` visited sets; exact unless a seed
        reached `seed_cap` sets (then only its cuts count, not its certificates)."""
        kernel, _ = _kernel()
        n, a, o = self.n, self.a, self.n_out
        best_exc, best_set = np.zeros((n, o)), np.full((n, o, o), -1, np.int64)
        emax = np.full((a + 1, o + 1), -np.inf)
        viol, nviol = np.empty((VIOLATED_CELLS // (o + 1), o + 1), np.int64), np.zeros(1, np.int64)
        visited, exact = kernel(w, self.sp, self.si, self.nbp, self.nbi, a, o, self.nwords, int(min(cap, 2**62)),
                                seed_cap, best_exc, best_set, emax, viol, nviol)
        if visited < 0:
            return None
        sets = {tuple(int(p) for p in row if p >= 0) for row in best_set[best_exc > 1e-9]}
        return Separation(sorted(sets), float(best_exc.max(initial=0.0)), knapsack(emax, a, o) if exact else math.inf,
                          viol[:nviol[0]] if exact and nviol[0] <= len(viol) else None, visited)

    def lone_axons(self, support: np.ndarray) -> int:
        """Sources that no neuron of `support` (1.0 = weighed) reads."""
        reader = np.repeat(np.arange(self.n), np.diff(self.sp))  # the neuron of each (neuron, source)
        read = np.zeros(int(self.si.max(initial=-1)) + 1, bool)  # compact ids: every source is read
        read[self.si[np.asarray(support)[reader] > 0]] = True
        return int((~read).sum())

    def fanin_at_least(self, k: int) -> np.ndarray:
        """1.0 for neurons with at least k sources (at least 1), else 0.0."""
        return np.array([1.0 if len(s) >= max(k, 1) else 0.0 for s in self.src])

    def sets_per_second(self) -> float:
        """Enumeration speed on this network, from CALIBRATION_SETS sets (or all, if fewer)."""
        w = self.fanin_at_least(1)
        self.separate(w, 10)  # compiles the kernel (numba) outside the timing
        t = time.perf_counter()
        sep = self.separate(w, CALIBRATION_SETS)
        visited = CALIBRATION_SETS if sep is None else max(1, sep.visited)
        return visited / max(1e-6, time.perf_counter() - t)

    def smallest_fanin_within(self, budget: float) -> int:
        """The smallest fan-in k whose neurons of fan-in >= k have at most `budget` connected
        fitting sets, counted from the largest k down (each count stops at the budget); 0 when
        none has. The smallest fan-in of all (every neuron) is not counted: the caller found
        it too many."""
        best = 0
        for k in sorted({len(s) for s in self.src if s}, reverse=True)[:-1]:
            if self.separate(self.fanin_at_least(k), budget) is None:
                break
            best = k
        return best

    def repair(self, x: np.ndarray, violated: np.ndarray) -> np.ndarray:
        """A point y <= x feasible for the axon LP, given every set violated at x (an exact
        pass): max sum y s.t. 0 <= y <= x, y(S) <= |U(S)| on the violated sets (GLOP). Sets
        not violated at x hold at y since y <= x. Any float slack d left on a violated set is
        paid for by scaling y by A / (A + N max(d, VIOLATED_TOL)): a fitting set is a union
        of at most N connected ones."""
        from ortools.linear_solver import pywraplp

        y = x.copy()
        if len(violated):
            solver = pywraplp.Solver.CreateSolver("GLOP")
            members = violated[:, :-1]
            var = {int(p): solver.NumVar(0.0, float(x[p]), "") for p in np.unique(members[members >= 0])}
            for row in violated:
                solver.Add(solver.Sum([var[int(p)] for p in row[:-1] if p >= 0]) <= float(row[-1]))
            solver.Maximize(solver.Sum(var.values()))
            if solver.Solve() != pywraplp.Solver.OPTIMAL:
                return np.zeros_like(x)
            for p, v in var.items():
                y[p] = min(x[p], max(0.0, v.solution_value()))
        over = np.append(y, 0.0)[violated[:, :-1]].sum(axis=1) - violated[:, -1]  # -1 pads read the 0
        slack = max(VIOLATED_TOL, float(over.max(initial=0.0)))
        return y * self.a / (self.a + self.n_out * slack)


def knapsack(emax: np.ndarray, a: int, o: int) -> float:
    """max sum (u_i + emax[u_i, o_i]) over multisets of (u_i, o_i) with sum u <= a, sum o <= o:
    an upper bound on w(S) over every S fitting (a axons, o neurons)."""
    u, k = np.nonzero(emax > -np.inf)
    keep = (u >= 1) & (k >= 1)
    u, k = u[keep], k[keep]
    v = u + emax[u, k]
    best = np.zeros((a + 1, o + 1))
    for x in range(a + 1):
        for y in range(o + 1):
            b = max(best[x - 1, y] if x else 0.0, best[x, y - 1] if y else 0.0)
            fit = (u <= x) & (k <= y)
            if fit.any():
                b = max(b, float((best[x - u[fit], y - k[fit]] + v[fit]).max()))
            best[x, y] = b
    return float(best[a, o])


def connected_cover_bound(inst: Instance, time_limit: float, center: list[float] | None = None,
                          target: float = math.inf,
                          on_bound: Callable[[int, dict[str, float]], None] | None = None
                          ) -> tuple[int, dict[str, float]]:
    """(area bound rounded up to the costs' gcd, info) of the module docstring within
    `time_limit` s; `center`: area-unit duals feasible for the axon LP (the source-cover
    duals), where the bound starts. Homogeneous libraries only (0 otherwise). Stops once the
    bound reaches `target` (an incumbent's area) or the LP; `on_bound` sees every raised
    bound with the info so far. A pass is sized to end by the time limit at the speed of the
    last one (none starts that would not)."""
    from ortools.linear_solver import pywraplp

    t_end = time.perf_counter() + time_limit
    if len(inst.types) != 1:
        return 0, {}
    net = AxonNetwork(inst)
    price = net.cost / net.a  # area per axon
    c = np.zeros(net.n) if center is None else np.asarray(center, float) / price
    best = float(c.sum())
    solver = pywraplp.Solver.CreateSolver("GLOP")
    if solver is None:
        return 0, {}
    has_src = [p for p in range(net.n) if net.src[p]]
    x = {p: solver.NumVar(0.0, len(net.src[p]), "") for p in has_src}
    solver.Maximize(solver.Sum(x.values()))
    pool: set[tuple[int, ...]] = set()
    _, compiled = _kernel()
    rate = net.sets_per_second()  # then measured on every pass
    budget = rate * time_limit * PASS_SHARE  # sets in one exact pass
    min_fanin = 1  # the bound weighs neurons of at least this fan-in
    lone = 0  # axons read only by neurons it does not weigh (module docstring: Support)
    rounds = passes = quick_left = 0
    lp = math.inf
    step = cost_step(inst)

    def area(v: float) -> int:  # axon-unit value -> area bound (rounded up to the costs' gcd)
        return round_up(v * price, step)

    def info() -> dict[str, float]:
        return {"connected_raw": best * price, "connected_lp": (lp + lone) * price, "connected_rounds": rounds,
                "connected_passes": passes, "connected_cuts": len(pool), "connected_compiled": float(compiled),
                "connected_min_fanin": min_fanin, "connected_lone_axons": lone}

    while time.perf_counter() < t_end and area(best) < target:
        rounds += 1
        solver.SetTimeLimit(max(1, int(1000 * (t_end - time.perf_counter()))))  # ms; GLOP took 90 s on 10,000 neurons
        if solver.Solve() != pywraplp.Solver.OPTIMAL:
            break
        lp = solver.Objective().Value()
        if area(lp + lone) <= area(best):
            break  # the bound cannot rise above the LP
        w_lp = np.zeros(net.n)
        for p in has_src:
            w_lp[p] = max(0.0, x[p].solution_value())
        point = IN_OUT * c + (1 - IN_OUT) * w_lp
        quick = quick_left > 0
        t_pass = time.perf_counter()
        first = passes == 0 and not quick
        cap = rate * (t_end - t_pass)  # sets the time left holds
        sep = net.separate(point, min(budget, cap) if first else cap, QUICK_CAP if quick else 2**62)
        if sep is None and first:
            # too many connected sets: weigh only neurons of fan-in >= k (w = 0 is feasible
            # for the others: a fitting set without them uses no more axons)
            k = net.smallest_fanin_within(min(budget, rate * (t_end - time.perf_counter())))
            if k > min_fanin:
                min_fanin, support = k, net.fanin_at_least(k)
                lone = net.lone_axons(support)
                c = c * support
                for p in has_src:
                    if not support[p]:
                        x[p].SetUb(0.0)
                continue
        if sep is None:
            break  # no time for a whole pass
        rate = sep.visited / max(1e-3, time.perf_counter() - t_pass)
        # after a quick pass without cuts the same point gets the exact pass
        quick_left = (quick_left - 1 if sep.sets else 0) if quick else QUICK_PASSES
        passes += not quick
        certified = point * net.a / max(net.a, sep.m)  # zero after a quick pass (m = inf)
        if sep.violated is not None:
            repaired = net.repair(point, sep.violated)
            certified = max(certified, repaired, key=np.sum)
        if certified.sum() + lone > best:
            raised = area(certified.sum() + lone) > area(best)
            best, c = float(certified.sum() + lone), certified
            if raised and on_bound is not None:
                on_bound(area(best), info())
        for s in sep.sets:  # violated at the point, so at w_LP too (the centre is feasible)
            if s not in pool:
                pool.add(s)
                solver.Add(solver.Sum([x[p] for p in s]) <= len(inst.axons(s)))
    return area(best), info()


class BoundChild:
    """`connected_cover_bound` in a forked child process (the second core: the elimination
    of a large network runs on one), sending every raised bound as it is proven; without
    fork it runs at once in the foreground."""

    def __init__(self, inst: Instance, time_limit: float, center: list[float] | None, target: float) -> None:
        import multiprocessing as mp

        self.t_end = time.perf_counter() + time_limit
        self.best: tuple[int, dict[str, float]] = (0, {})
        try:
            ctx = mp.get_context("fork")
        except ValueError:
            self.proc = None
            self.best = connected_cover_bound(inst, time_limit, center, target)
            return
        self.recv, send = ctx.Pipe(duplex=False)

        def child() -> None:
            send.send(connected_cover_bound(inst, time_limit, center, target,
                                            on_bound=lambda lb, info: send.send((lb, info))))
            send.close()

        self.proc = ctx.Process(target=child, daemon=True)
        self.proc.start()
        send.close()

    def result(self, target: float = math.inf) -> tuple[int, dict[str, float]]:
        """The best bound the child sent by its time limit (plus 1 s) or once one reaches
        `target` (the incumbent's area); the child is stopped."""
        if self.proc is None:
            return self.best
        while self.best[0] < target and self.recv.poll(max(0.0, self.t_end + 1.0 - time.perf_counter())):
            try:
                lb, info = self.recv.recv()
            except EOFError:  # the child ended (or died: memory)
                break
            if lb >= self.best[0]:
                self.best = lb, info
        self.proc.terminate()
        self.proc.join()
        return self.best
