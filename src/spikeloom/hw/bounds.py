"""Lower bounds computed without the mapping model (valid for every mapping).

- outputs: every neuron needs an output line; neurons with fan-in f need a crossbar with
  at least f inputs (counted per fan-in threshold: the fan-in bound).
- axons: a source driving d placed neurons appears on at least ceil(d / N_max) crossbars,
  so the library must supply that many axons in total (and that many routes exist).
- area: the cheapest multiset of crossbar sizes meeting both demands (a tiny integer
  program over size counts, solved exactly).
- global routes: of a placed source's ceil(d / N_max) axons at most one is local.
- conflicts (`conflict_bound`): neurons whose sources together exceed the inputs of every
  size with two or more outputs never share a crossbar, so a set of pairwise such neurons
  pays for one crossbar each.
"""

from __future__ import annotations

import math
import time
from functools import reduce

from spikeloom.hw.instance import Instance


def cost_step(inst: Instance) -> int:
    """The gcd of the crossbar costs: every area is a multiple of it."""
    return reduce(math.gcd, (t.cost for t in inst.types))


def round_up(x: float, step: int) -> int:
    """`x` rounded up to a multiple of `step` (a bound on an area that is one), with 1e-6 slack
    for the float sums it comes from."""
    return step * math.ceil(x / step - 1e-6)


def axon_demand(inst: Instance) -> list[int]:
    nmax = max(t.outputs for t in inst.types)
    return [math.ceil(len(inst.tgt[v]) / nmax) for v in range(len(inst.node_ids))]


def routes_bound(inst: Instance) -> int:
    return sum(axon_demand(inst))


def global_routes_bound(inst: Instance) -> int:
    d = axon_demand(inst)
    return sum(max(0, d[v] - (1 if inst.pos_of_node[v] >= 0 else 0)) for v in range(len(d)))


def packets_bound(inst: Instance) -> float:
    d = axon_demand(inst)
    return sum(inst.weight[v] * max(0, d[v] - (1 if inst.pos_of_node[v] >= 0 else 0))
               for v in range(len(d)))


def area_bound(inst: Instance, time_limit: float = 5.0) -> int:
    """Cheapest size counts m_t with sum_{A_t >= f} N_t m_t >= #{neurons with fan-in >= f}
    for every fan-in f, sum A_t m_t >= total axon demand, m_t <= available."""
    types = inst.types
    thresholds = sorted(set(inst.fanin))
    need = {f: sum(1 for x in inst.fanin if x >= f) for f in thresholds}
    axons = routes_bound(inst)
    if len(types) == 1:
        t = types[0]
        k = max(math.ceil(inst.n / t.outputs), math.ceil(axons / t.inputs))
        return k * t.cost
    from ortools.sat.python import cp_model

    m = cp_model.CpModel()
    cap = inst.n  # never more crossbars of a size than neurons
    cnt = [m.NewIntVar(0, cap if t.count is None else min(cap, t.count), f"m[{t.name}]") for t in types]
    for f in thresholds:
        m.Add(sum(t.outputs * c for t, c in zip(types, cnt, strict=True) if t.inputs >= f) >= need[f])
    m.Add(sum(t.inputs * c for t, c in zip(types, cnt, strict=True)) >= axons)
    m.Minimize(sum(t.cost * c for t, c in zip(types, cnt, strict=True)))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.num_workers = 1
    code = solver.Solve(m)
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return int(math.ceil(solver.BestObjectiveBound() - 1e-9))
    # fallback: per-neuron cheapest cost per output line
    return math.ceil(sum(min(t.cost / t.outputs for t in types if t.inputs >= f) for f in inst.fanin))


def conflict_bound(inst: Instance, starts: int = 32, time_limit: float = 2.0) -> int:
    """Area lower bound from neurons that cannot share a crossbar.

    Neurons with identical source sets form a group g (fan-in f_g, |g| neurons). Groups g, h
    conflict when |src_g | src_h| exceeds A2, the most inputs of any available size with at
    least two outputs: no crossbar holds a neuron of each. The crossbars holding the groups
    of a clique K of pairwise conflicting groups are therefore disjoint, and those holding
    g cost at least val_g, the cheapest multiset of sizes with >= f_g inputs and >= |g|
    outputs in total (counts relaxed). So area >= sum over K of val_g. K is grown
    greedily (highest val first) from each of the `starts` most valuable groups while
    `time_limit` s last (the first clique is always finished); 0 when no two neurons can
    conflict."""
    avail = [t for t in inst.types if t.count is None or t.count > 0]
    a2 = max((t.inputs for t in avail if t.outputs >= 2), default=0)
    if 2 * max(inst.fanin, default=0) <= a2:
        return 0  # every pair fits one crossbar
    groups: dict[tuple[int, ...], int] = {}
    for ss in inst.src:
        groups[ss] = groups.get(ss, 0) + 1
    keys = list(groups)
    sets = [frozenset(k) for k in keys]
    val = [_cover_cost(groups[k], [t for t in avail if t.inputs >= len(k)]) for k in keys]
    order = sorted(range(len(keys)), key=lambda i: -val[i])
    best = 0
    t_end = time.perf_counter() + time_limit
    for s0 in order[:starts]:
        if best and time.perf_counter() > t_end:
            break
        clique = [s0]
        for i in order:
            if i != s0 and all(len(sets[i] | sets[j]) > a2 for j in clique):
                clique.append(i)
        best = max(best, sum(val[i] for i in clique))
    return best


def _cover_cost(k: int, types: list) -> int:
    """Cheapest multiset of `types` (unlimited counts) with at least `k` outputs in total."""
    best = [0] + [0] * k
    for i in range(1, k + 1):
        best[i] = min(t.cost + best[max(0, i - t.outputs)] for t in types)
    return best[k]


def all_bounds(inst: Instance) -> dict[str, float]:
    """Counting bounds per objective; "conflict_area" the conflict bound on area."""
    return {"area": area_bound(inst), "routes": routes_bound(inst),
            "global": global_routes_bound(inst), "packets": packets_bound(inst),
            "conflict_area": conflict_bound(inst)}
