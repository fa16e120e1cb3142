"""An area lower bound for networks too large for one column generation: column generation
per block of neurons, the blocks' duals combined by Farley's argument.

Proof sketch. Let the neurons be split into blocks B_1..B_m. Column generation on block i
alone (its neurons, their sources as external axons) ends with duals pi_i >= 0 that are
dual feasible for block i's set-covering LP after scaling (colgen `duals_out`):
pi_i(S) <= C_t for every crossbar content S within B_i. Their concatenation pi is
non-negative, but a content S that mixes blocks may have pi(S) > C_t. Exact pricing over
the whole network gives UB_t >= max {pi(S) : S fits size t}; with
alpha = max(1, max_t UB_t / C_t), pi / alpha is dual feasible for the whole LP, so
area >= LP >= sum(pi) / alpha (Farley). Also, with k_max the number of crossbars of any
mapping no costlier than the incumbent, area >= sum(pi) - k_max * max_t (UB_t - C_t)
(Lagrangian form: each crossbar covers at most C_t + (UB_t - C_t) of dual value). Both
hold for any blocks and any pricing upper bound, so the bound stays valid when a block's
column generation or the global pricing stops early; it is tight when few good crossbar
contents cross blocks, which is why the blocks come from a hypergraph partition
(fewest shared axons between blocks) or else from the incumbent's crossbars.
"""

from __future__ import annotations

import math
import time
from functools import reduce

from spikeloom.hw.colgen import colgen_area_bound
from spikeloom.hw.graph import Graph
from spikeloom.hw.instance import Bin, Instance
from spikeloom.hw.pricing import exact_pricing


def sub_instance(inst: Instance, neurons: list[int]) -> Instance:
    """The placed neurons `neurons` alone, their sources outside kept as external axons."""
    ids = inst.node_ids
    mine = [ids[inst.placed[p]] for p in neurons]
    inside = set(mine)
    outside = sorted({ids[v] for p in neurons for v in inst.src[p]} - inside)
    edges = tuple((ids[v], ids[inst.placed[p]]) for p in neurons for v in inst.src[p])
    g = Graph(tuple(outside) + tuple(mine), edges, tuple(outside), (), name="block")
    return Instance(g, inst.library, external_inputs=True)


def blocks_from_bins(inst: Instance, bins: list[Bin], size: int) -> list[list[int]]:
    """Neuron blocks of about `size` neurons made of whole crossbars of `bins`, each block
    grown from a crossbar by adding the crossbar sharing most axons with it."""
    axons = [inst.axons(b.neurons) for b in bins]
    left = set(range(len(bins)))
    blocks: list[list[int]] = []
    while left:
        k = min(left)
        left.discard(k)
        block, ax = list(bins[k].neurons), set(axons[k])
        while left and len(block) < size:
            j = max(left, key=lambda j: (len(ax & axons[j]), -j))
            left.discard(j)
            block += bins[j].neurons
            ax |= axons[j]
        blocks.append(block)
    return blocks


def blocks_from_partition(inst: Instance, size: int, seed: int = 0, threads: int = 1) -> list[list[int]]:
    """Neuron blocks of at most `size` neurons from a km1 hypergraph partition (mtkahypar)."""
    from spikeloom.hw.hypergraph import partition

    k = max(1, math.ceil(inst.n / size))
    part = partition(inst, k, size, seed, threads)
    out: dict[int, list[int]] = {}
    for p, b in enumerate(part):
        out.setdefault(b, []).append(p)
    return [b for b in out.values() if b]


def block_bound(inst: Instance, blocks: list[list[int]], time_limit: float, start_area: float,
                pricing_time: float = 30.0) -> tuple[float, dict[str, float]]:
    """(valid area lower bound, info) from column generation on each block for an equal share
    of `time_limit` minus the global pricing time, combined as in the module docstring.
    `start_area`: the area of a known mapping (for k_max in the Lagrangian form)."""
    t_end = time.perf_counter() + time_limit
    types = inst.types
    g = reduce(math.gcd, (t.cost for t in types))
    pi = [0.0] * inst.n
    block_sum = 0.0
    reserve = min(pricing_time, 0.3 * time_limit)
    for i, block in enumerate(blocks):
        share = (t_end - reserve - time.perf_counter()) / (len(blocks) - i)
        if share < 0.2:
            break
        sub = sub_instance(inst, block)
        duals: list[float] = []
        colgen_area_bound(sub, [], share, 1, duals_out=duals)
        if duals:
            # sub.placed follows the block's order (its neurons come after its external sources)
            for q, x in enumerate(duals):
                pi[block[q]] = x
            block_sum += sum(duals)
    alpha, excess = 1.0, 0.0
    for t, ct in enumerate(types):
        limit = max(0.5, (t_end - time.perf_counter()) / (len(types) - t))
        _, ub = exact_pricing(inst, t, pi, limit, 1)
        alpha = max(alpha, ub / ct.cost)
        excess = max(excess, ub - ct.cost)
    k_max = start_area // min(t.cost for t in types)
    raw = max(sum(pi) / alpha, sum(pi) - k_max * excess, 0.0)
    bound = g * math.ceil(raw / g - 1e-6)
    return bound, {"blocks": len(blocks), "block_dual_sum": block_sum, "alpha": alpha, "raw_bound": raw}
