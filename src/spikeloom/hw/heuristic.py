"""Constructive heuristic: grow one crossbar at a time around the hardest unplaced neuron,
adding the neuron that brings the fewest new axons (most shared inputs first).

For a mixed library every available size is tried for each crossbar and the size with
the lowest area per placed neuron wins. Neurons without inputs are placed last, into
spare outputs. The result seeds the LNS and is the CP-SAT hint.
"""

from __future__ import annotations

import math
import random
import time

from spikeloom.hw.instance import Bin, Instance


def _grow(inst: Instance, seed: int, t: int, free: set[int], local_bonus: bool,
          fillers: list[int], lo: int) -> tuple[list[int], set[int]]:
    """One crossbar of size t around `seed`. `fillers`: the neurons with inputs by (fan-in,
    position), those before index `lo` all placed."""
    ct = inst.types[t]
    group = [seed]
    ax = set(inst.src[seed])
    members = {inst.placed[seed]}
    while len(group) < ct.outputs:
        pool: set[int] = set()
        for v in ax | members:
            pool.update(inst.tgt[v])
        best, best_key = -1, None
        for q in pool:
            if q not in free or q in group or inst.fanin[q] == 0:
                continue
            new = sum(1 for s in inst.src[q] if s not in ax)
            if len(ax) + new > ct.inputs:
                continue
            bonus = (inst.placed[q] in ax) + sum(1 for s in inst.src[q] if s in members) if local_bonus else 0
            key = (new, -bonus, -(inst.fanin[q] - new), -inst.fanin[q], q)
            if best_key is None or key < best_key:
                best, best_key = q, key
        if best < 0:  # nothing connected fits: take the unrelated neuron with fewest inputs that fits
            # (every free neuron of the pool was just found not to fit, and one outside it shares
            # no source with ax, so it fits when its fan-in does: the first such in `fillers`)
            room = ct.inputs - len(ax)
            for i in range(lo, len(fillers)):
                q = fillers[i]
                if inst.fanin[q] > room:
                    break
                if q in free and q not in pool and q not in group:
                    best = q
                    break
        if best < 0:
            break
        group.append(best)
        ax.update(inst.src[best])
        members.add(inst.placed[best])
    return group, ax


def construct(inst: Instance, seed: int = 0, local_bonus: bool = False) -> list[Bin] | None:
    """A feasible mapping, or None when the available counts run out."""
    rng = random.Random(seed)
    left = [t.count for t in inst.types]  # None = unlimited
    noise = {p: rng.random() for p in range(inst.n)}
    free = {p for p in range(inst.n) if inst.fanin[p] > 0}
    seeds = sorted(free, key=lambda p: (inst.fanin[p], noise[p]), reverse=True)  # hardest first
    fillers = sorted(free, key=lambda p: (inst.fanin[p], p))
    next_seed = lo = 0  # seeds[:next_seed] and fillers[:lo] are placed
    bins: list[Bin] = []
    while free:
        while seeds[next_seed] not in free:
            next_seed += 1
        while fillers[lo] not in free:
            lo += 1
        seed_p = seeds[next_seed]
        best = None
        for t in inst.allowed[seed_p]:
            if left[t] is not None and left[t] <= 0:
                continue
            group, ax = _grow(inst, seed_p, t, free, local_bonus, fillers, lo)
            key = (inst.types[t].cost / len(group), -len(group), len(ax))
            if best is None or key < best[0]:
                best = (key, t, group)
        if best is None:
            return None
        _, t, group = best
        if left[t] is not None:
            left[t] -= 1
        bins.append(Bin(t, tuple(group)))
        free.difference_update(group)
    # neurons without inputs: spare outputs first, then the cheapest crossbar per output
    zero = [p for p in range(inst.n) if inst.fanin[p] == 0]
    out: list[Bin] = []
    for b in bins:
        room = inst.types[b.type].outputs - len(b.neurons)
        take, zero = zero[:room], zero[room:]
        out.append(Bin(b.type, b.neurons + tuple(take)))
    while zero:
        opts = [t for t in range(len(inst.types)) if left[t] is None or left[t] > 0]
        if not opts:
            return None
        t = min(opts, key=lambda t: (inst.types[t].cost / min(inst.types[t].outputs, len(zero)),
                                     -inst.types[t].outputs))
        if left[t] is not None:
            left[t] -= 1
        k = inst.types[t].outputs
        out.append(Bin(t, tuple(zero[:k])))
        zero = zero[k:]
    return retype(inst, out)


def retype(inst: Instance, bins: list[Bin]) -> list[Bin]:
    """Give each crossbar the cheapest available size that still holds it."""
    used = [0] * len(inst.types)
    for b in bins:
        used[b.type] += 1
    out = []
    for b in bins:
        n_ax = len(inst.axons(b.neurons))
        best = b.type
        for t, ct in enumerate(inst.types):
            spare = ct.count is None or used[t] < ct.count
            if spare and ct.outputs >= len(b.neurons) and ct.inputs >= n_ax and ct.cost < inst.types[best].cost:
                best = t
        used[b.type] -= 1
        used[best] += 1
        out.append(Bin(best, b.neurons))
    return out


def best_construct(inst: Instance, tries: int, seed: int, score, deadline: float = math.inf) -> list[Bin] | None:
    """The best of `tries` randomised constructions under `score` (a key function); no
    further try starts after `deadline` (time.perf_counter(); the first always runs)."""
    best = None
    for k in range(max(1, tries)):
        if k and time.perf_counter() > deadline:
            break
        sol = construct(inst, seed=seed * 1000 + k, local_bonus=bool(k % 2))
        if sol is not None and (best is None or score(sol) < score(best)):
            best = sol
    return best


def merge(inst: Instance, bins: list[Bin]) -> list[Bin]:
    """Join pairs of crossbars that share axons into one size holding both at no more area
    (the cheapest such size; pairs with the largest area saving, then most shared axons,
    first): the area never rises and the routes fall by the shared axons. The area search on
    a split-reduced library (crossbars.split_dominated) leaves A x 4 crossbars that the
    library's larger sizes can hold together at the same area."""
    bins = list(bins)
    types = inst.types
    used = [0] * len(types)
    for b in bins:
        used[b.type] += 1
    while True:
        axs = [inst.axons(b.neurons) for b in bins]
        by_src: dict[int, list[int]] = {}
        for j, ax in enumerate(axs):
            for v in ax:
                by_src.setdefault(v, []).append(j)
        best = None
        seen: set[tuple[int, int]] = set()
        for js in by_src.values():
            for i, a in enumerate(js):
                for b in js[i + 1:]:
                    if (a, b) in seen:
                        continue
                    seen.add((a, b))
                    shared = len(axs[a] & axs[b])
                    union = len(axs[a]) + len(axs[b]) - shared
                    n = len(bins[a].neurons) + len(bins[b].neurons)
                    was = types[bins[a].type].cost + types[bins[b].type].cost
                    for t, ct in enumerate(types):
                        free = ct.count is None or used[t] - (bins[a].type == t) - (bins[b].type == t) < ct.count
                        if free and ct.inputs >= union and ct.outputs >= n and ct.cost <= was:
                            key = (was - ct.cost, shared, -ct.cost)
                            if best is None or key > best[0]:
                                best = (key, a, b, t)
        if best is None:
            return bins
        _, a, b, t = best
        used[bins[a].type] -= 1
        used[bins[b].type] -= 1
        used[t] += 1
        joined = Bin(t, tuple(sorted(bins[a].neurons + bins[b].neurons)))
        bins = [x for j, x in enumerate(bins) if j not in (a, b)] + [joined]
