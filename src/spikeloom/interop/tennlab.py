"""The mapper's view of a model as a TENNLab network JSON (torch-free).

The graph is exactly what `spikeloom map --model` maps (`spikeloom.measure.graph` under a
`PruningPolicy`: a synapse per |w| > prune threshold, idle neurons left out, node `L0:i` the
inputs, `L{l}:o` layer l's neurons). TENNLab ids are
integers: node k of that graph gets id k, and `Associated_Data.spikeloom.node_names` keeps the
spikeloom names. Node values are [Threshold] (inputs 0: they relay the input spikes), edge
values [Weight, Delay] with delay 1 (one time step per layer); all properties are doubles
('D'), so a TENNLab processor with integer weights has to quantize them itself. Leak and
reset are recorded in `Associated_Data.spikeloom` (TENNLab's properties depend on the
processor). `spikeloom.hw.importers.graph_from_tennlab` reads the file back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from spikeloom.hw.graph import Graph

_DOUBLE = 68  # TENNLab property type 'D'


def _prop(name: str, index: int, lo: float, hi: float) -> dict[str, Any]:
    return {"name": name, "type": _DOUBLE, "index": index, "size": 1,
            "min_value": float(lo), "max_value": float(hi)}


def tennlab_network(graph: Graph, weights: Sequence[np.ndarray], thresholds: Sequence[float | None],
                    prune_threshold: float = 0.0, info: dict[str, Any] | None = None) -> dict[str, Any]:
    """A TENNLab network dict of `graph` (the mapper's graph of the model). weights: per layer
    [out, in] (the edge values); thresholds: per layer theta (None for a non-spiking readout,
    written as 0); info: extra `Associated_Data.spikeloom` fields (beta, reset mode, ...)."""
    name = graph.name or "model"
    mats = [np.asarray(w, dtype=float) for w in weights]
    ids = {node: k for k, node in enumerate(graph.nodes)}
    theta = [0.0] + [0.0 if t is None else float(t) for t in thresholds]
    nodes = [{"id": k, "values": [theta[int(node[1:].split(":")[0])]]}
             for node, k in ids.items()]
    edges = []
    for src, dst in graph.edges:
        layer = int(dst[1:].split(":")[0])
        w = mats[layer - 1][int(dst.split(":")[1]), int(src.split(":")[1])]
        edges.append({"from": ids[src], "to": ids[dst], "values": [float(w), 1.0]})
    wmax = max((float(np.abs(m).max()) for m in mats if m.size), default=1.0)
    tmax = max(theta) or 1.0
    return {
        "Properties": {"node_properties": [_prop("Threshold", 0, 0.0, tmax)],
                       "edge_properties": [_prop("Weight", 0, -wmax, wmax),
                                           _prop("Delay", 1, 1.0, 1.0)],
                       "network_properties": []},
        "Nodes": nodes,
        "Edges": edges,
        "Inputs": [ids[n] for n in graph.inputs],
        "Outputs": [ids[n] for n in graph.outputs],
        "Network_Values": [],
        "Associated_Data": {"spikeloom": {"name": name, "node_names": list(graph.nodes),
                                          "prune_threshold": float(prune_threshold),
                                          **(info or {})}},
    }
