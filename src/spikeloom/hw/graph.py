"""The network graph the mapper works on: neurons (nodes) and synapses (directed edges).

Node ids are kept exactly as the input named them (as strings). A synapse `k -> i` means
neuron `k`'s spikes drive neuron `i`: on hardware, `i`'s crossbar needs `k` as an axon
(input line). `weights` optionally holds a per-neuron spike count W_k (from a profile),
used by the packet objective.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from spikeloom.errors import DataError


@dataclass(frozen=True)
class Graph:
    """A directed spiking network: `nodes`, `edges` (source, target), `inputs`, `outputs`."""

    nodes: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    weights: Mapping[str, float] | None = field(default=None, compare=False)
    name: str = ""

    def __post_init__(self) -> None:
        nodes = tuple(str(n) for n in self.nodes)
        if len(set(nodes)) != len(nodes):
            dup = next(n for n in nodes if nodes.count(n) > 1)
            raise DataError(f"the network lists node {dup!r} twice; node ids must be unique")
        known = set(nodes)
        seen: set[tuple[str, str]] = set()
        edges: list[tuple[str, str]] = []
        for src, dst in self.edges:
            e = (str(src), str(dst))
            for end in e:
                if end not in known:
                    raise DataError(f"edge {e[0]!r} -> {e[1]!r} names unknown node {end!r}; "
                                    "add the node or remove the edge")
            if e not in seen:  # two synapses k -> i still need one axon
                seen.add(e)
                edges.append(e)
        for label, group in (("input", self.inputs), ("output", self.outputs)):
            for n in group:
                if str(n) not in known:
                    raise DataError(f"{label} {n!r} is not a node of the network; fix its {label} list")
        object.__setattr__(self, "nodes", nodes)
        object.__setattr__(self, "edges", tuple(edges))
        object.__setattr__(self, "inputs", tuple(str(n) for n in self.inputs))
        object.__setattr__(self, "outputs", tuple(str(n) for n in self.outputs))
        if self.weights is not None:
            w = {str(k): float(v) for k, v in self.weights.items()}
            for k, v in w.items():
                if k not in known:
                    raise DataError(f"profile names unknown neuron {k!r}; use the network's node ids")
                if not v >= 0.0:
                    raise DataError(f"profile value for neuron {k!r} is {v}; spike counts must be >= 0")
            object.__setattr__(self, "weights", w)

    @cached_property
    def fan_in(self) -> dict[str, tuple[str, ...]]:
        """Node id -> the sources of its incoming synapses (in edge order)."""
        out: dict[str, list[str]] = {n: [] for n in self.nodes}
        for src, dst in self.edges:
            out[dst].append(src)
        return {n: tuple(v) for n, v in out.items()}

    @cached_property
    def fan_out(self) -> dict[str, tuple[str, ...]]:
        """Node id -> the targets of its outgoing synapses."""
        out: dict[str, list[str]] = {n: [] for n in self.nodes}
        for src, dst in self.edges:
            out[src].append(dst)
        return {n: tuple(v) for n, v in out.items()}

    @property
    def max_fan_in(self) -> int:
        return max((len(v) for v in self.fan_in.values()), default=0)

    def with_weights(self, weights: Mapping[str, float]) -> Graph:
        """The same graph with a per-neuron spike profile attached (missing neurons count 0)."""
        return Graph(self.nodes, self.edges, self.inputs, self.outputs, dict(weights), self.name)

    def stats(self) -> dict[str, int | float | str]:
        n, e = len(self.nodes), len(self.edges)
        density = e / (n * (n - 1)) if n > 1 else 0.0
        return {"name": self.name, "nodes": n, "edges": e, "max_fan_in": self.max_fan_in,
                "inputs": len(self.inputs), "outputs": len(self.outputs),
                "sparsity": round(1.0 - density, 6)}
