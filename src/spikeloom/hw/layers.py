"""The layers of a network, for the mapper's layer-by-layer start (mapper._layered_start):
each layer is mapped alone with its sources as external inputs, as SNN mappers map a
network layer by layer, and the layer mappings are put side by side; the elimination then
merges across layers. On grid-local networks the layers' own mappings tile each layer
evenly, which the elimination from a whole-network start does not find: dev network
DBSCAN flat 20 x 20 (16x16), 272 crossbars from the hypergraph start vs 266 from the layers
after the same elimination; its optimum is 262 (docs/mapping.md)."""

from __future__ import annotations

import numpy as np

from spikeloom.hw.graph import Graph
from spikeloom.hw.instance import Bin, Instance


def depth_layers(inst: Instance) -> list[list[int]]:
    """Neuron positions with fan-in > 0 grouped by depth: the longest path from a node
    without fan-in over the DAG of strongly connected components (a cycle is one
    component, its neurons share a layer). Returns [layer][positions], shallowest first."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    nodes = len(inst.node_ids)
    rows = [v for p in range(inst.n) for v in inst.src[p]]
    cols = [inst.placed[p] for p in range(inst.n) for _ in inst.src[p]]
    adj = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(nodes, nodes))
    n_comp, comp = connected_components(adj, directed=True, connection="strong")
    succ: list[set[int]] = [set() for _ in range(n_comp)]
    for u, v in zip(rows, cols, strict=True):
        if comp[u] != comp[v]:
            succ[comp[u]].add(int(comp[v]))
    indeg = [0] * n_comp
    for s in succ:
        for c in s:
            indeg[c] += 1
    depth = [0] * n_comp
    ready = [c for c in range(n_comp) if indeg[c] == 0]
    while ready:  # Kahn's order: a component's depth is final when it is taken
        c = ready.pop()
        for d in succ[c]:
            depth[d] = max(depth[d], depth[c] + 1)
            indeg[d] -= 1
            if not indeg[d]:
                ready.append(d)
    layers: dict[int, list[int]] = {}
    for p in range(inst.n):
        if inst.fanin[p]:
            layers.setdefault(max(1, depth[comp[inst.placed[p]]]), []).append(p)
    return [layers[k] for k in sorted(layers)]


def layer_graph(inst: Instance, neurons: list[int], name: str) -> Graph:
    """The sub-network of `neurons` (positions): them, the synapses into them, and their
    sources outside the layer as its inputs (external when mapped)."""
    ids = inst.node_ids
    inside = {inst.placed[p] for p in neurons}
    outside = sorted({v for p in neurons for v in inst.src[p]} - inside)
    edges = tuple((ids[v], ids[inst.placed[p]]) for p in neurons for v in inst.src[p])
    return Graph(tuple(ids[v] for v in outside) + tuple(ids[inst.placed[p]] for p in neurons), edges,
                 inputs=tuple(ids[v] for v in outside), name=name)


def side_by_side(inst: Instance, groups: list[list[int]]) -> list[Bin]:
    """The layers' crossbars (`groups` of positions, homogeneous library) as one mapping,
    with the neurons without fan-in (they need no axon) on the spare outputs, fullest
    crossbar first, on new crossbars when none is left."""
    cap = inst.types[0].outputs
    groups = sorted((list(g) for g in groups), key=len, reverse=True)
    free = [p for p in range(inst.n) if not inst.fanin[p]]
    for g in groups:
        take = min(cap - len(g), len(free))
        g += free[len(free) - take:]
        del free[len(free) - take:]
    groups += [free[i:i + cap] for i in range(0, len(free), cap)]
    return [Bin(0, tuple(sorted(g))) for g in groups]
