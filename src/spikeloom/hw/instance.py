"""Index form of a mapping problem (shared by the heuristic, the CP-SAT model and the LNS;
the independent checker does NOT use it).

Placed neurons are numbered 0..n-1 ("positions"); synapse sources are node indices over
all nodes (a source may be an unplaced external input).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

from spikeloom.errors import InfeasibleError
from spikeloom.hw.crossbars import CrossbarLibrary
from spikeloom.hw.graph import Graph

# objective name -> lexicographic stages
OBJECTIVES: dict[str, tuple[str, ...]] = {
    "area": ("area",),
    "routes": ("routes",),
    "global-routes": ("global",),
    "packets": ("packets",),
    "area-then-routes": ("area", "routes"),
    "area-then-global-routes": ("area", "global"),
    "area-then-packets": ("area", "packets"),
}


@dataclass(frozen=True)
class Bin:
    """One used crossbar: its library type index and the neuron positions on it."""

    type: int
    neurons: tuple[int, ...]


class Instance:
    def __init__(self, graph: Graph, library: CrossbarLibrary, external_inputs: bool = False) -> None:
        self.graph = graph
        self.library = library
        self.external_inputs = external_inputs
        self.types = library.types
        self.node_ids: list[str] = list(graph.nodes)
        index = {v: i for i, v in enumerate(self.node_ids)}
        ext = set(graph.inputs) if external_inputs else set()
        self.placed: list[int] = [index[v] for v in graph.nodes if v not in ext]
        self.n = len(self.placed)
        self.pos_of_node: list[int] = [-1] * len(self.node_ids)
        for p, v in enumerate(self.placed):
            self.pos_of_node[v] = p
        fan_in = graph.fan_in
        self.src: list[tuple[int, ...]] = [tuple(sorted({index[s] for s in fan_in[self.node_ids[v]]}))
                                           for v in self.placed]
        self.tgt: list[list[int]] = [[] for _ in self.node_ids]  # node -> positions it drives
        for p, ss in enumerate(self.src):
            for s in ss:
                self.tgt[s].append(p)
        w = graph.weights or {}
        self.weight: list[float] = [float(w.get(v, 0.0)) for v in self.node_ids]
        self.fanin: list[int] = [len(s) for s in self.src]
        self.allowed: list[list[int]] = [[t for t, ct in enumerate(self.types) if ct.inputs >= f
                                          and (ct.count is None or ct.count > 0)]
                                         for f in self.fanin]
        self._check_feasible()

    def _check_feasible(self) -> None:
        if self.n == 0:
            raise InfeasibleError("the network has no neurons to place; check the network file")
        for p, ok in enumerate(self.allowed):
            if not ok:
                f = self.fanin[p]
                biggest = max((t.inputs for t in self.types if t.count is None or t.count > 0), default=0)
                size = 1 << max(2, math.ceil(math.log2(f)))
                raise InfeasibleError(
                    f"neuron {self.node_ids[self.placed[p]]!r} has fan-in {f} but the largest available "
                    f"crossbar has {biggest} inputs; add a crossbar with >= {f} inputs (e.g. {size}x{size}) "
                    "or prune the network")
        if all(t.count is not None for t in self.types):
            fans = sorted(self.fanin, reverse=True)
            for f in sorted(set(fans), reverse=True):
                need = sum(1 for x in fans if x >= f)
                have = sum(t.outputs * (t.count or 0) for t in self.types if t.inputs >= f)
                if have < need:
                    raise InfeasibleError(
                        f"{need} neurons have fan-in >= {f} but the available crossbars with >= {f} "
                        f"inputs hold only {have} neurons; raise the crossbar counts")

    @cached_property
    def position(self) -> dict[str, int]:
        """Node id -> position of each placed neuron (results name neurons by id)."""
        return {self.node_ids[v]: p for p, v in enumerate(self.placed)}

    @cached_property
    def sources_used(self) -> list[int]:
        """Node indices that drive at least one placed neuron."""
        return [v for v, t in enumerate(self.tgt) if t]

    @cached_property
    def src_masks(self) -> list[int]:
        """Each placed neuron's sources as a bitset over node indices (bit v: node v drives it):
        axon counts of a neuron set are one OR and a popcount (repack, pricing)."""
        return [sum(1 << v for v in ss) for ss in self.src]

    def axons(self, neurons: tuple[int, ...] | list[int]) -> set[int]:
        out: set[int] = set()
        for p in neurons:
            out.update(self.src[p])
        return out

    def bin_metrics(self, b: Bin) -> tuple[int, int, int, float]:
        """(cost, routes, global routes, packets) of one crossbar."""
        ax = self.axons(b.neurons)
        local = {self.placed[p] for p in b.neurons} & ax
        glob = ax - local
        return (self.types[b.type].cost, len(ax), len(glob), sum(self.weight[v] for v in glob))

    def metrics(self, bins: list[Bin]) -> dict[str, float]:
        area = routes = glob = 0
        packets = 0.0
        for b in bins:
            c, r, g, pk = self.bin_metrics(b)
            area += c
            routes += r
            glob += g
            packets += pk
        return {"area": area, "routes": routes, "global": glob, "packets": packets}

    def fits(self, t: int, neurons: list[int] | tuple[int, ...]) -> bool:
        ct = self.types[t]
        return len(neurons) <= ct.outputs and len(self.axons(neurons)) <= ct.inputs

    def is_valid(self, bins: list[Bin]) -> bool:
        seen = [p for b in bins for p in b.neurons]
        if sorted(seen) != list(range(self.n)):
            return False
        used = [0] * len(self.types)
        for b in bins:
            used[b.type] += 1
            if not b.neurons or not self.fits(b.type, b.neurons):
                return False
        return all(t.count is None or used[i] <= t.count for i, t in enumerate(self.types))
