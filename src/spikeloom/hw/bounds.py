"""Lower bounds computed without the mapping model (valid for every mapping).

- outputs: every neuron needs an output line; neurons with fan-in f need a crossbar with
  at least f inputs (counted per fan-in threshold: the fan-in bound).
- axons: a source driving d placed neurons appears on at least ceil(d / N_max) crossbars,
  so the library must supply that many axons in total (and that many routes exist).
- area: the cheapest multiset of crossbar sizes meeting both demands (a tiny integer
  program over size counts, solved exactly).
- global routes: of a placed source's ceil(d / N_max) axons at most one is local.
"""

from __future__ import annotations

import math

from spikeloom.hw.instance import Instance


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


def all_bounds(inst: Instance) -> dict[str, float]:
    return {"area": area_bound(inst), "routes": routes_bound(inst),
            "global": global_routes_bound(inst), "packets": packets_bound(inst)}
