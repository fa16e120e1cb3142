"""The source-cover bound: a lower bound on area from small covering LPs, one per block of
sources, cheap at any network size (no pricing over the whole network).

Every crossbar b carries |U_b| <= A_b axons, so C_b >= |U_b| C_b / A_b, and for any partition
of the sources into blocks, area >= sum_B sum_b (C_b / A_b) |U_b & B|. The crossbars holding
the targets T_B of a block's sources cover T_B, each piece fits its size, and the block's
axons on b are exactly those its piece reads ("own" sources). So the inner sum is at least
cover(B): the cheapest fractional cover of T_B by sets S fitting some size t, costing
(C_t / A_t) |own(S)| (counts relaxed). Hence area >= sum_B cover(B).

cover(B) is solved by cutting planes on its dual (max sum w s.t. w(S) <= (C_t / A_t) |own(S)|
for S fitting t), scaled to be feasible exactly. The neuron duals pi_p = sum_B w_{B,p} satisfy
pi(S) <= (C_t / A_t) |U_S| <= C_t for every S fitting t: they are feasible for the
set-covering LP of colgen.py, so the bound is the Farley bound at pi with alpha <= 1 proven
without pricing, and pi is a valid stabilisation centre for column generation.
"""

from __future__ import annotations

import math
import time

from spikeloom.hw.bounds import cost_step, round_up
from spikeloom.hw.instance import Instance

MAX_NODES = 20_000  # search nodes per separation (one block and size)
MAX_ROUNDS = 60  # cutting-plane rounds per block
CUTS = 8  # violated sets added per round and size (the last improving ones of the search)
# block sizes tried in turn (sources per block): on presets A-E and a synthetic 2,000-neuron
# network (16x16) the bound rose from 1 to 4 to 8 sources per block in every case; 16 did
# not converge within 60 s on the synthetic one
BLOCKS = (1, 4, 8)


def most_violated(weights: list[float], srcs: list[frozenset[int]], own: list[frozenset[int]], inputs: int,
                  outputs: int, price: float, nodes: int = MAX_NODES,
                  found: list[tuple[int, ...]] | None = None,
                  deadline: float = math.inf) -> tuple[tuple[int, ...], float, bool]:
    """(S, excess, exact): the subset S of indices maximising the excess
    w(S) - price |union of own[i], i in S| among those with |S| <= outputs and
    |union of srcs[i], i in S| <= inputs (excess 0 for the empty set), by depth-first branch
    and bound: indices in order of falling weight, a branch cut once its weight plus the next
    (outputs left) weights, less the price of the own sources it already holds (that only
    grows), cannot beat the best. Past `nodes` nodes or `deadline` (time.perf_counter()): the
    best set found and exact False.
    Every set that improved on the best goes to `found` (more cuts per round)."""
    order = sorted((i for i in range(len(weights)) if weights[i] > 1e-12 and len(srcs[i]) <= inputs),
                   key=lambda i: -weights[i])
    wv = [weights[i] for i in order]
    best_val, best_set = 0.0, ()
    count = 0
    stack: list[tuple[int, frozenset[int], frozenset[int], float, tuple[int, ...]]] = [
        (0, frozenset(), frozenset(), 0.0, ())]
    while stack:
        i0, ax, mine, value, chosen = stack.pop()
        left = outputs - len(chosen)
        paid = price * len(mine)
        for j in range(i0, len(order)):
            count += 1
            if count > nodes or (count % 256 == 0 and time.perf_counter() > deadline):
                return tuple(sorted(best_set)), best_val, False
            if value + sum(wv[j:j + left]) - paid <= best_val + 1e-12:
                break  # weights fall along the order: nothing later beats the best
            i = order[j]
            new = ax | srcs[i]
            if len(new) > inputs:
                continue
            m2 = mine | own[i]
            v2, c2 = value + wv[j], chosen + (i,)
            if v2 - price * len(m2) > best_val + 1e-12:
                best_val, best_set = v2 - price * len(m2), c2
                if found is not None:
                    found.append(tuple(sorted(c2)))
            if left > 1:
                stack.append((j + 1, new, m2, v2, c2))
    return tuple(sorted(best_set)), best_val, True


def uniform_dual(own: list[frozenset[int]], sizes: list[tuple[int, int, float]]) -> list[float]:
    """The block's uniform dual: w_i = sum over its own sources v of min price / min(|T_v|,
    max N_t), T_v the targets reading v (feasible without any LP)."""
    lo = min(p for _, _, p in sizes)
    n_max = max(o for _, o, _ in sizes)
    reach: dict[int, int] = {}
    for ow in own:
        for v in ow:
            reach[v] = reach.get(v, 0) + 1
    return [sum(lo / min(reach[v], n_max) for v in ow) for ow in own]


def block_cover_dual(srcs: list[frozenset[int]], own: list[frozenset[int]],
                     sizes: list[tuple[int, int, float]], rounds: int = MAX_ROUNDS,
                     deadline: float = math.inf) -> list[float]:
    """A feasible dual w of one block's cover LP: the block's targets (their source sets
    `srcs`, and `own` those in the block, never empty) covered by sets fitting a size
    (inputs, outputs, price = C_t / A_t), a set S costing price_t |own(S)|: max sum w s.t.
    w(S) <= price_t |own(S)| for every S fitting t, by cutting planes (GLOP; separation by
    `most_violated`). With d_t the proven maximum excess over size t (the sum of the heaviest
    `outputs` weights less price_t where a separation stopped early), w / max_t(1 + d_t /
    price_t) is feasible (|own(S)| >= 1), so rounds running out only weaken it; past
    `deadline` the rounds and searches stop. Never below the uniform dual
    w_i = sum_{v in own_i} min price / min(|T_v|, max N_t)."""
    from ortools.linear_solver import pywraplp

    k = len(srcs)
    uniform = uniform_dual(own, sizes)
    solver = pywraplp.Solver.CreateSolver("GLOP")
    if solver is None:
        return uniform
    w = [solver.NumVar(0.0, solver.infinity(), "") for _ in range(k)]
    for i in range(k):  # every target fits alone on some size
        solver.Add(w[i] <= len(own[i]) * min(p for a, _, p in sizes if len(srcs[i]) <= a))
    solver.Maximize(solver.Sum(w))
    val = uniform
    for _ in range(rounds):
        if time.perf_counter() > deadline:
            break
        if solver.Solve() != pywraplp.Solver.OPTIMAL:
            return uniform
        val = [max(0.0, x.solution_value()) for x in w]
        added = False
        for a, o, price in sizes:
            cuts: list[tuple[int, ...]] = []
            _, excess, _ = most_violated(val, srcs, own, a, o, price, found=cuts, deadline=deadline)
            if excess > 1e-9 * price:
                for s in cuts[-CUTS:]:  # the most violated last
                    solver.Add(solver.Sum([w[i] for i in s]) <= price * len(frozenset().union(*[own[i] for i in s])))
                added = True
        if not added:
            break
    scale = 1.0
    for a, o, price in sizes:
        _, excess, exact = most_violated(val, srcs, own, a, o, price, deadline=deadline)
        if not exact:
            excess = max(excess, sum(sorted((val[i] for i in range(k) if len(srcs[i]) <= a), reverse=True)[:o]) - price)
        scale = max(scale, 1.0 + excess / price)
    out = [x / scale for x in val]
    return out if sum(out) >= sum(uniform) else uniform


def source_blocks(inst: Instance, size: int) -> list[list[int]]:
    """The sources (nodes driving a placed neuron) in blocks of at most `size`: each block
    grows from its lowest unassigned source by the unassigned source read together with the
    block by the most neurons (ties: lowest index); size 1 gives one block per source."""
    done: set[int] = set()
    blocks: list[list[int]] = []
    for v0 in inst.sources_used:
        if v0 in done:
            continue
        block = [v0]
        done.add(v0)
        while len(block) < size:
            score: dict[int, int] = {}
            for v in block:
                for p in inst.tgt[v]:
                    for u in inst.src[p]:
                        if u not in done:
                            score[u] = score.get(u, 0) + 1
            if not score:
                break
            u = min(score, key=lambda x: (-score[x], x))
            block.append(u)
            done.add(u)
        blocks.append(block)
    return blocks


def _shape(targets: list[int], srcset: list[frozenset[int]], own: list[frozenset[int]]) -> tuple:
    """The block's cover LP up to renaming its sources: per target in order, its sources and
    own sources numbered by first appearance. Equal shapes are the same LP (the same w by
    position): translated copies in grid-like networks are solved once."""
    name: dict[int, int] = {}
    out = []
    for i, p in enumerate(targets):
        for v in sorted(srcset[p], key=lambda u: (u not in own[i], u)):
            name.setdefault(v, len(name))
        out.append((tuple(sorted(name[v] for v in srcset[p])), tuple(sorted(name[v] for v in own[i]))))
    return tuple(out)


def source_cover_duals(inst: Instance, time_limit: float = 10.0, block: int = 1
                       ) -> tuple[list[float], dict[str, float]]:
    """(pi, info): neuron duals pi_p = sum over blocks B of w_{B,p}, feasible for the
    set-covering LP (module docstring), from blocks of `block` sources; info counts the
    blocks solved by LP and those left to the uniform dual once `time_limit` s are up."""
    t_end = time.perf_counter() + time_limit
    types = [t for t in inst.types if t.count is None or t.count > 0]
    sizes = [(t.inputs, t.outputs, t.cost / t.inputs) for t in types]
    srcset = [frozenset(s) for s in inst.src]
    pi = [0.0] * inst.n
    solved = uniform = 0
    seen: dict[tuple, list[float]] = {}
    blocks = source_blocks(inst, block)
    for b in blocks:
        bset = frozenset(b)
        targets = sorted({p for v in b for p in inst.tgt[v]})
        own = [srcset[p] & bset for p in targets]
        key = _shape(targets, srcset, own) if time.perf_counter() < t_end else None
        if key in seen:
            w = seen[key]
        elif key is not None:
            w = seen[key] = block_cover_dual([srcset[p] for p in targets], own, sizes, deadline=t_end)
            solved += 1
        else:
            w = uniform_dual(own, sizes)  # the block holds every target of its sources: reach = |T_v|
            uniform += 1
        for i, p in enumerate(targets):
            pi[p] += w[i]
    return pi, {"source_blocks_lp": solved, "source_blocks_uniform": uniform, "source_blocks": len(blocks)}


def source_cover_bound(inst: Instance, time_limit: float = 10.0, blocks: tuple[int, ...] = BLOCKS
                       ) -> tuple[int, list[float], dict[str, float]]:
    """(area bound rounded up to the costs' gcd, its duals pi, info): the best of the block
    sizes `blocks`, tried in order while `time_limit` s last (the first always finishes)."""
    t_end = time.perf_counter() + time_limit
    best: tuple[list[float], dict[str, float]] | None = None
    for size in blocks:
        if best is not None and time.perf_counter() >= t_end:
            break
        pi, info = source_cover_duals(inst, max(0.0, t_end - time.perf_counter()), size)
        info["source_block_size"] = size
        if best is None or sum(pi) > sum(best[0]):
            best = pi, info
    assert best is not None
    pi, info = best
    raw = sum(pi)
    info["source_raw"] = raw
    return round_up(raw, cost_step(inst)), pi, info
