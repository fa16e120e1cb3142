"""SpikeHard-style baseline: pack Minimally Connected Components without axon sharing.

A minimally connected component (MCC) is one neuron together with its input synapses: it
needs one output line and one axon per synapse (no sharing of an input line between
neurons on the same crossbar). Components are packed first-fit decreasing (by axons) into
the cheapest size per neuron, then the packing is repeated - emptying the least-filled
crossbar into the others and re-packing - until the crossbar count stops falling.
"""

from __future__ import annotations

from spikeloom.hw.instance import Bin, Instance


def _first_fit(inst: Instance, order: list[int], t_pick: dict[int, int]) -> list[list[int]] | None:
    bins: list[tuple[int, list[int], int]] = []  # (type, neurons, axons used)
    left = [t.count for t in inst.types]
    for p in order:
        f = inst.fanin[p]
        for k, (t, ns, ax) in enumerate(bins):
            ct = inst.types[t]
            if len(ns) < ct.outputs and ax + f <= ct.inputs:
                ns.append(p)
                bins[k] = (t, ns, ax + f)
                break
        else:
            t = t_pick[p]
            if left[t] is not None:
                if left[t] <= 0:
                    return None
                left[t] -= 1
            bins.append((t, [p], f))
    return [[t, *ns] for t, ns, _ in bins]


def mcc_mapping(inst: Instance, max_rounds: int = 50) -> list[Bin] | None:
    # size for a new crossbar: lowest cost per neuron (with room for the MCC's axons)
    t_pick = {}
    for p in range(inst.n):
        opts = [t for t in inst.allowed[p]]
        t_pick[p] = min(opts, key=lambda t: (inst.types[t].cost / inst.types[t].outputs, -inst.types[t].inputs))
    order = sorted(range(inst.n), key=lambda p: (-inst.fanin[p], p))
    packed = _first_fit(inst, order, t_pick)
    if packed is None:
        return None
    best = packed
    for _ in range(max_rounds):
        # empty the least-filled crossbar first: its components go last in a new order
        loads = sorted(best, key=lambda b: len(b) - 1)
        weak = set(loads[0][1:])
        order = sorted((p for b in loads[1:] for p in b[1:]), key=lambda p: (-inst.fanin[p], p))
        order += sorted(weak, key=lambda p: (-inst.fanin[p], p))
        trial = _first_fit(inst, order, t_pick)
        if trial is None or sum(inst.types[b[0]].cost for b in trial) >= sum(inst.types[b[0]].cost for b in best):
            break  # converged: no crossbar could be saved
        best = trial
    return [Bin(b[0], tuple(b[1:])) for b in best]
