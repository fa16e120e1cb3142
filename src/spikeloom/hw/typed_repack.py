"""Crossbar elimination for mixed libraries (several sizes): the typed counterpart of
repack.py's elimination.

From a valid mapping, one change makes the crossbars cheaper: a crossbar is dropped, or
given a cheaper size (its neurons beyond the new size's outputs are set loose). The loose
neurons go where they add the least overflow, and a tabu search looks for a mapping with
zero overflow on the changed crossbars, where a crossbar's overflow is its axons beyond its
inputs plus its neurons beyond its outputs (both soft here, unlike repack.py, whose
outputs stay within capacity: a mixed-library mapping has few free outputs, and moving a
neuron between sizes needs one). Moves relocate a neuron of an overflowing crossbar to any
other crossbar or swap it with a neuron of another crossbar; (neuron, crossbar it left) is
tabu for 7-16 moves unless the move beats the best overflow; after 20 moves without
progress the overflowing crossbars' weights go up (breakout). Overflow 0 is a valid, cheaper
mapping (each crossbar then re-sized to the cheapest size holding it); then the next change.

Why: on table2 the cost of a crossbar is inputs x outputs, so every neuron pays the inputs
of its crossbar; the constructive heuristic puts many neurons that fit a 4-input crossbar on
8-input ones, and the LNS, which re-places a few crossbars at a time, does not undo that
(preset A: LNS 1,744 cells while the restricted set-covering LP is 1,302).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from spikeloom.hw.heuristic import retype
from spikeloom.hw.instance import Bin, Instance
from spikeloom.hw.repack import _ov, _State, apply_move, record_progress, weighted_overflow


class _Typed(_State):
    """repack.py's state with each crossbar's own inputs and outputs; overflow counts both."""

    def __init__(self, inst: Instance, groups: list[list[int]], types: list[int]) -> None:
        # per-crossbar capacities (lists) where the homogeneous state has one number each
        super().__init__(inst, groups, [inst.types[t].outputs for t in types],  # type: ignore[arg-type]
                         [inst.types[t].inputs for t in types])  # type: ignore[arg-type]

    def over(self, j: int) -> int:
        return _ov(len(self.cnt[j]), self.cap_in[j]) + _ov(len(self.members[j]), self.cap_out[j])

    def insert_cost(self, p: int, j: int) -> tuple[int, int]:
        """(overflow added by putting p on crossbar j, its axons there)."""
        n_ax = self.axons_after(j, (), self.src[p])
        added = (_ov(n_ax, self.cap_in[j]) + _ov(len(self.members[j]) + 1, self.cap_out[j]) - self.over(j))
        return added, n_ax


def _search(st: _Typed, t_end: float, rng: random.Random, max_iters: int,
            stop: Callable[[], bool] | None = None) -> bool:
    """Tabu search to zero overflow (inputs and outputs); True when reached."""
    src, ci, co = st.src, st.cap_in, st.cap_out
    tabu: dict[tuple[int, int], int] = {}
    cur = weighted_overflow(st)
    best_plain = st.total()
    stall = it = 0
    while it < max_iters:
        it += 1
        if best_plain == 0:
            return True
        if time.perf_counter() > t_end or (it % 32 == 0 and stop is not None and stop()):
            return False
        bad = [j for j in range(st.k) if st.over(j) > 0]
        best_d, moves = None, []
        for a in bad:
            la, na_out, wa = len(st.cnt[a]), len(st.members[a]), st.w[a]
            ova = st.over(a)
            for p in st.members[a]:
                sp = src[p]
                na = st.axons_after(a, sp, ())
                da = wa * (_ov(na, ci[a]) + _ov(na_out - 1, co[a]) - ova)
                for b in range(st.k):
                    if b == a:
                        continue
                    lb, wb = len(st.cnt[b]), st.w[b]
                    nb = st.axons_after(b, (), sp)
                    d = da + wb * (_ov(nb, ci[b]) + _ov(len(st.members[b]) + 1, co[b]) - st.over(b))
                    if tabu.get((p, b), 0) < it or d + cur < best_plain:  # relocate p: a -> b
                        if best_d is None or d < best_d:
                            best_d, moves = d, [(p, b, -1)]
                        elif d == best_d:
                            moves.append((p, b, -1))
                    if not sp:
                        continue  # swapping an input-free neuron changes no axons
                    for q in st.members[b]:  # swap p (a) <-> q (b): outputs unchanged
                        sq = src[q]
                        na2 = st.axons_after(a, sp, sq)
                        nb2 = st.axons_after(b, sq, sp)
                        d = wa * (_ov(na2, ci[a]) - _ov(la, ci[a])) + wb * (_ov(nb2, ci[b]) - _ov(lb, ci[b]))
                        if (tabu.get((p, b), 0) < it and tabu.get((q, a), 0) < it) or d + cur < best_plain:
                            if best_d is None or d < best_d:
                                best_d, moves = d, [(p, b, q)]
                            elif d == best_d:
                                moves.append((p, b, q))
        if not moves:
            return False
        apply_move(st, moves[rng.randrange(len(moves))], tabu, it, rng)
        best_plain, stall, _ = record_progress(st, best_plain, stall, best_d)
        cur = weighted_overflow(st)
    return best_plain == 0


def _changes(inst: Instance, best: list[Bin]) -> list[tuple[int, int]]:
    """Every change that makes `best` cheaper: (crossbar index, new type or -1 = drop it)."""
    used = [0] * len(inst.types)
    for b in best:
        used[b.type] += 1
    out = []
    for j, b in enumerate(best):
        out.append((j, -1))
        cost = inst.types[b.type].cost
        for t, ct in enumerate(inst.types):
            if ct.cost < cost and (ct.count is None or used[t] < ct.count):
                out.append((j, t))
    return out


def typed_pack(inst: Instance, groups: list[list[int]], types: list[int], loose: list[int], t_end: float,
               rng: random.Random, max_iters: int, stop: Callable[[], bool] | None = None) -> list[Bin] | None:
    """`loose` neurons added to the crossbars `groups` (of sizes `types`; hardest first, each
    where it adds the least overflow), then the tabu search to zero overflow. The mapping
    (each crossbar re-sized to the cheapest size holding it), or None."""
    st = _Typed(inst, groups, types)
    for p in sorted(loose, key=lambda p: -inst.fanin[p]):
        j = min(range(st.k), key=lambda j: (*st.insert_cost(p, j), rng.random()))
        st.add(p, j)
    if not _search(st, t_end, rng, max_iters, stop):
        return None
    bins = [Bin(t, tuple(sorted(m))) for t, m in zip(types, st.members, strict=True) if m]
    return retype(inst, bins) if inst.is_valid(bins) else None


def eliminate_typed(inst: Instance, bins: list[Bin], time_limit: float, seed: int = 0,
                    max_iters: int = 2000, target: float | Callable[[], float] = 0.0,
                    log: Callable[[list[Bin]], None] | None = None) -> list[Bin]:
    """A cheaper mapping than `bins` where the search finds one (any library). Each round
    draws one cheapening change (`_changes`; smaller savings more often, weight 1 / saving),
    sets the affected neurons loose (a dropped crossbar's, or those beyond a smaller size's
    outputs: the ones with the most sources of their own there) and repacks (`typed_pack`).
    Stops at area `target` (a callable: a bound another process raises) or after
    `time_limit` s; `log` sees every improved mapping."""
    t_end = time.perf_counter() + time_limit
    rng = random.Random(seed)
    goal = target if callable(target) else (lambda: target)
    best = list(bins)
    area = inst.metrics(best)["area"]

    def stop() -> bool:
        return area <= goal() + 1e-9

    while time.perf_counter() < t_end and not stop():
        changes = _changes(inst, best)
        if not changes:
            break
        saving = [inst.types[best[j].type].cost - (inst.types[t].cost if t >= 0 else 0) for j, t in changes]
        j, t = rng.choices(changes, weights=[1.0 / s for s in saving])[0]
        groups = [list(b.neurons) for b in best]
        types = [b.type for b in best]
        loose: list[int] = []
        if t < 0:
            loose = groups.pop(j)
            types.pop(j)
        else:
            types[j] = t
            keep = groups[j]
            extra = len(keep) - inst.types[t].outputs
            if extra > 0:  # set loose the neurons with the most sources no other member shares
                cnt: dict[int, int] = {}
                for p in keep:
                    for v in inst.src[p]:
                        cnt[v] = cnt.get(v, 0) + 1
                order = sorted(keep, key=lambda p: (-sum(cnt[v] == 1 for v in inst.src[p]), rng.random()))
                loose, groups[j] = order[:extra], order[extra:]
        if not types:
            continue
        cand = typed_pack(inst, groups, types, loose, t_end, rng, max_iters, stop)
        if cand is not None and inst.metrics(cand)["area"] < area:
            best, area = cand, inst.metrics(cand)["area"]
            if log is not None:
                log(best)
    return best
