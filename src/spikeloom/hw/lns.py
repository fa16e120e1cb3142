"""Large-neighbourhood search: free the neurons of a few related crossbars, re-place them
exactly with the CP-SAT slot model (the other crossbars stay fixed), keep the result when
it is no worse. Neighbourhoods grow when sub-problems solve to optimality and shrink when
they time out."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from spikeloom.hw.instance import Bin, Instance
from spikeloom.hw.model import SlotModel


def score(inst: Instance, bins: list[Bin], stages: tuple[str, ...]) -> tuple[float, ...]:
    m = inst.metrics(bins)
    return tuple(m[s] for s in stages)


def _related(inst: Instance, bins: list[Bin], seed_bin: int, rng: random.Random,
             spikes: bool = False) -> list[int]:
    """Other crossbars ordered by how much they share with `seed_bin` (inputs or synapses).
    With `spikes` (packet objective) a shared source counts by its spike count relative to
    the mean (plus 1), so crossbars that could carry the busy sources' packets locally come
    first."""
    home = {p: k for k, b in enumerate(bins) for p in b.neurons}
    ax = inst.axons(bins[seed_bin].neurons)
    mean = (sum(inst.weight) / len(inst.weight)) if spikes and inst.weight and sum(inst.weight) > 0 else 0.0
    weight: dict[int, float] = {}

    def w(v: int) -> float:
        return 1.0 + inst.weight[v] / mean if mean > 0 else 1.0

    for v in ax:
        for p in inst.tgt[v]:
            weight[home[p]] = weight.get(home[p], 0.0) + w(v)
        pv = inst.pos_of_node[v]
        if pv >= 0:
            weight[home[pv]] = weight.get(home[pv], 0.0) + w(v)
    for p in bins[seed_bin].neurons:
        v = inst.placed[p]
        for q in inst.tgt[v]:
            weight[home[q]] = weight.get(home[q], 0.0) + w(v)
    weight.pop(seed_bin, None)
    others = [k for k in range(len(bins)) if k != seed_bin]
    return sorted(others, key=lambda k: -(weight.get(k, 0.0) + rng.random() * 1.5))


def _seed_bin(inst: Instance, bins: list[Bin], rng: random.Random, packets: bool) -> int:
    """The crossbar a move starts from: for packets, often one drawn by its incoming global
    packets (where the profiled objective is paid); otherwise often the emptiest (area);
    else a random one."""
    if packets and rng.random() < 0.5:
        load = [inst.bin_metrics(b)[3] for b in bins]
        if sum(load) > 0:
            return rng.choices(range(len(bins)), weights=load)[0]
    if rng.random() < 0.5:
        return min(range(len(bins)), key=lambda k: (len(bins[k].neurons) / inst.types[bins[k].type].outputs,
                                                    rng.random()))
    return rng.randrange(len(bins))


def lns(inst: Instance, bins: list[Bin], stages: tuple[str, ...], *, time_limit: float,
        workers: int, seed: int, deterministic_limit: float | None = None,
        target: tuple[float, ...] | None = None, packet_scale: float = 1.0,
        log: Callable[[float, tuple[float, ...]], None] | None = None,
        area_cap: float | None = None) -> tuple[list[Bin], float]:
    """Improve `bins` lexicographically on `stages` (plus total routes as a tie-breaker for
    area, which frees axons for the next move). Returns (bins, deterministic time used)."""
    rng = random.Random(seed)
    t_end = time.perf_counter() + time_limit
    det_used = 0.0
    cur = list(bins)
    tie = ("routes",) if stages == ("area",) else ()
    packets = "packets" in stages  # packet-aware neighbourhoods
    full = stages + tie
    cur_score = score(inst, cur, full)
    size = 4  # crossbars freed per move
    max_neurons = 120
    used_types = [0] * len(inst.types)
    while True:
        now = time.perf_counter()
        if now >= t_end or (deterministic_limit is not None and det_used >= deterministic_limit):
            break
        if target is not None and score(inst, cur, stages) <= target:
            break
        if len(cur) <= 1 and len(inst.types) == 1:
            break
        k0 = _seed_bin(inst, cur, rng, packets)
        chosen = [k0]
        n_free = len(cur[k0].neurons)
        for k in _related(inst, cur, k0, rng, spikes=packets):
            if len(chosen) >= size or n_free + len(cur[k].neurons) > max_neurons:
                break
            chosen.append(k)
            n_free += len(cur[k].neurons)
        neurons = [p for k in chosen for p in cur[k].neurons]
        slot_types = sorted(cur[k].type for k in chosen)
        if len(inst.types) > 1:  # mixed library: also offer one empty crossbar of each size
            used_types = [0] * len(inst.types)
            for b in cur:
                used_types[b.type] += 1
            for t, ct in enumerate(inst.types):
                if ct.count is None or used_types[t] < ct.count:
                    slot_types.append(t)
            slot_types.sort()
        sub = [cur[k] for k in chosen]
        sm = SlotModel(inst, neurons, slot_types, full, packet_scale)
        exprs = [sm.exprs[s] for s in full]
        # combined lexicographic objective on the sub-problem
        sub_m = inst.metrics(sub)
        bigs = []
        mult = 1
        for s in reversed(full):
            bigs.append(mult)
            cap = {"area": sum(inst.types[t].cost for t in slot_types),
                   "routes": sum(inst.types[t].inputs for t in slot_types) + 1,
                   "global": sum(inst.types[t].inputs for t in slot_types) + 1,
                   "packets": round(packet_scale * sum(inst.weight)) * len(slot_types) + 1}[s]
            mult *= int(cap) + 1
        bigs.reverse()
        obj = sum(b * e for b, e in zip(bigs, exprs, strict=True))
        sm.hint(sub)
        fixed = []
        if area_cap is not None and "area" not in stages:
            rest = inst.metrics([b for k, b in enumerate(cur) if k not in chosen])["area"]
            fixed.append((sm._expr("area"), int(area_cap - rest)))
        remaining = max(0.05, t_end - time.perf_counter())
        out = sm.solve(obj, min(remaining, 1.0 + 0.25 * size), workers, rng.randrange(1 << 30),
                       deterministic_limit=None if deterministic_limit is None
                       else max(0.01, min(deterministic_limit - det_used, 2.0 + 0.5 * size)),
                       fixed=fixed)
        det_used += out.deterministic_time
        if out.bins is not None:
            new = [b for k, b in enumerate(cur) if k not in chosen] + out.bins
            new_score = score(inst, new, full)
            if new_score <= cur_score and inst.is_valid(new):
                improved = new_score < cur_score
                cur, cur_score = new, new_score
                if improved and log is not None:
                    log(time.perf_counter(), score(inst, cur, stages))
            if out.status == "OPTIMAL":
                size = min(size + 1, 12)
            else:
                size = max(2, size - 1)
        else:
            size = max(2, size - 1)
        _ = sub_m
    return cur, det_used
