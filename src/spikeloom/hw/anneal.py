"""Simulated annealing on the area itself, for libraries of several sizes with unlimited
counts (table2).

State: the crossbars as groups of neurons. A group costs its cheapest size with outputs >=
its neurons and inputs >= its axons (the union of their sources), so the area is a step
function of each group's axon count (table2's A x 4 sizes: 4 x the next power of two).
Energy: area + `w_axons` x total axons; the axon term orders the plateaus of the steps (a
group with fewer axons is nearer a smaller size). Weights and temperatures scale with the
cheapest size's cost.

STEP 1. Draw a neuron p and a target crossbar h: with probability 0.95 the crossbar of a
        neuron that reads one of p's sources (where p can share axons), else any crossbar
        or an empty one.
STEP 2. Relocate p to h (when h has a free output), or swap p with a neuron of h: half each.
STEP 3. Accept when the energy does not rise, else with probability exp(-rise / T).
STEP 4. T falls geometrically from `t_hot` to `t_cold` over a cycle; `cycles` cycles fill the
        time (each reheats). The best area seen is kept.

Why: on table2 the typed elimination (typed_repack.py), which drops or shrinks one
crossbar at a time and repairs by tabu search, stopped at 1,712 cells on preset D in 30 s;
the master LP is at most 1,391 there. Moving neurons one at a time on the area itself
reaches much lower areas (numbers in docs/mapping.md).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable

from spikeloom.hw.instance import Bin, Instance
from spikeloom.hw.repack import axons_after

CHECK_EVERY = 2000  # moves between looks at the clock and the target


def applies(inst: Instance) -> bool:
    """Annealing needs every size unlimited (a group takes its cheapest size)."""
    return all(t.count is None for t in inst.types)


def cost_table(inst: Instance) -> list[list[float]]:
    """cost[o][a]: the cheapest size with >= o outputs and >= a inputs (inf if none; 0 for
    an empty group), for o up to the most outputs and a up to the most inputs + 1."""
    types = inst.types
    n_out, n_in = max(t.outputs for t in types), max(t.inputs for t in types)
    table = [[min((t.cost for t in types if t.outputs >= o and t.inputs >= a), default=math.inf)
              for a in range(n_in + 2)] for o in range(n_out + 1)]
    table[0] = [0.0] * (n_in + 2)
    return table


def anneal_area(inst: Instance, bins: list[Bin], time_limit: float, seed: int = 0, *,
                w_axons: float = 1 / 64, t_hot: float = 1 / 2, t_cold: float = 3 / 160, cycles: int = 1,
                target: float | Callable[[], float] = 0.0,
                log: Callable[[list[Bin]], None] | None = None) -> list[Bin]:
    """The cheapest mapping seen while annealing from `bins` for `time_limit` s (each crossbar
    on its cheapest size), or `bins` when nothing cheaper came up. Stops at area `target` (a
    callable: a bound another process raises); `log` sees every improved mapping.
    `w_axons` and the temperatures are in units of the cheapest size's cost (table2: 16
    cells, so 0.25 cells per axon and T from 8 to 0.3 cells)."""
    if inst.n == 0:
        return list(bins)
    t0 = time.perf_counter()
    t_end = t0 + time_limit
    rng = random.Random(seed)
    goal = target if callable(target) else (lambda: target)
    unit = min(t.cost for t in inst.types)
    w_axons, t_hot, t_cold = w_axons * unit, t_hot * unit, t_cold * unit
    table = cost_table(inst)
    n_out, n_in = len(table) - 1, len(table[0]) - 2
    src, tgt = inst.src, inst.tgt

    def cost(n: int, a: int) -> float:
        return table[n][a] if n <= n_out and a <= n_in else math.inf

    # one group per crossbar, then empty groups (a neuron may open a crossbar)
    members = [list(b.neurons) for b in bins] + [[] for _ in range(len(bins), inst.n)]
    where = [0] * inst.n
    cnt: list[dict[int, int]] = [{} for _ in members]  # group -> {source: neurons reading it}
    for g, ms in enumerate(members):
        for p in ms:
            where[p] = g
            for v in src[p]:
                cnt[g][v] = cnt[g].get(v, 0) + 1
    empty = [g for g in range(len(members)) if not members[g]]

    def snapshot() -> list[Bin]:
        out = []
        for ms, c in zip(members, cnt, strict=True):
            if ms:
                t = min((k for k, ct in enumerate(inst.types) if ct.outputs >= len(ms) and ct.inputs >= len(c)),
                        key=lambda k: inst.types[k].cost)
                out.append(Bin(t, tuple(sorted(ms))))
        return out

    def move(x: int, a: int, b: int) -> None:
        members[a].remove(x)
        members[b].append(x)
        where[x] = b
        ca, cb = cnt[a], cnt[b]
        for v in src[x]:
            if ca[v] == 1:
                del ca[v]
            else:
                ca[v] -= 1
            cb[v] = cb.get(v, 0) + 1

    area = sum(cost(len(ms), len(c)) for ms, c in zip(members, cnt, strict=True))
    best_area, best = area, list(bins)
    temp, it = t_hot, 0
    cycle = time_limit / max(1, cycles)
    while True:
        it += 1
        if it % CHECK_EVERY == 0:
            now = time.perf_counter()
            if now > t_end or best_area <= goal() + 1e-9:
                break
            temp = t_hot * (t_cold / t_hot) ** (((now - t0) % cycle) / cycle)
        # STEP 1: a neuron and a crossbar
        p = rng.randrange(inst.n)
        g, sp = where[p], src[p]
        if sp and rng.random() < 0.95:
            readers = tgt[sp[rng.randrange(len(sp))]]
            h = where[readers[rng.randrange(len(readers))]]
        elif empty and rng.random() < 0.3:
            h = empty[-1]
        else:
            h = where[rng.randrange(inst.n)]
        if h == g:
            continue
        cg, ch, mh = cnt[g], cnt[h], members[h]
        ng, nh, ag, ah = len(members[g]), len(mh), len(cg), len(ch)
        old = cost(ng, ag) + cost(nh, ah)
        # STEP 2: relocate or swap, with the axon counts after the move
        q = -1
        if nh < n_out and (not mh or rng.random() < 0.5):
            ag2, ah2 = axons_after(cg, sp, ()), axons_after(ch, (), sp)
            new = cost(ng - 1, ag2) + cost(nh + 1, ah2)
        else:
            if not mh:
                continue
            q = mh[rng.randrange(nh)]
            sq = src[q]
            ag2, ah2 = axons_after(cg, sp, sq), axons_after(ch, sq, sp)
            new = cost(ng, ag2) + cost(nh, ah2)
        rise = new - old + w_axons * (ag2 + ah2 - ag - ah)
        # STEP 3: accept
        if rise > 0 and rng.random() >= math.exp(-rise / temp):
            continue
        move(p, g, h)
        if q >= 0:
            move(q, h, g)
        if nh == 0:
            empty.remove(h)
        if not members[g]:
            empty.append(g)
        area += new - old
        if area < best_area - 1e-9:
            best_area, best = area, snapshot()
            if log is not None:
                log(best)
    return best
