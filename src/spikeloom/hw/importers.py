"""Network importers: TENNLab JSON, NIR, edge-list CSV, weight matrices, and spike profiles.

Every importer returns a `Graph` with node ids as the file named them. Malformed input
raises `DataError` with one line naming the problem and the fix.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spikeloom.errors import ConfigError, DataError
from spikeloom.hw.graph import Graph


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"network file {str(path)!r} does not exist; check the path") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{str(path)!r} is not valid JSON ({exc}); fix or re-export the file") from None


def graph_from_tennlab(data: Mapping[str, Any], name: str = "") -> Graph:
    """A TENNLab network dict (`Nodes`, `Edges` with `from`/`to`, `Inputs`, `Outputs`)."""
    if not isinstance(data, Mapping) or "Nodes" not in data or "Edges" not in data:
        raise DataError(f"{name or 'network'} is not a TENNLab network: it needs 'Nodes' and 'Edges' lists")
    try:
        nodes = [str(n["id"]) for n in data["Nodes"]]
        edges = [(str(e["from"]), str(e["to"])) for e in data["Edges"]]
    except (KeyError, TypeError):
        raise DataError(f"{name or 'network'}: every TENNLab node needs an 'id' and every edge "
                        "'from' and 'to'; fix the file") from None
    inputs = [str(n) for n in data.get("Inputs", []) or []]
    outputs = [str(n) for n in data.get("Outputs", []) or []]
    return Graph(tuple(nodes), tuple(edges), tuple(inputs), tuple(outputs), name=name)


def load_tennlab(path: str | os.PathLike[str]) -> Graph:
    p = Path(path)
    return graph_from_tennlab(_read_json(p), name=p.stem)


def load_edge_csv(path: str | os.PathLike[str]) -> Graph:
    """An edge list: one `source,target` per line; a header line and `#` comments are allowed."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"network file {str(p)!r} does not exist; check the path") from None
    except UnicodeDecodeError:
        raise DataError(f"{str(p)!r} is not a text edge list; write one 'source,target' per line") from None
    nodes: dict[str, None] = {}
    edges: list[tuple[str, str]] = []
    for lineno, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or not "".join(row).strip() or row[0].strip().startswith("#"):
            continue
        if len(row) < 2:
            raise DataError(f"{p.name} line {lineno}: expected 'source,target', got {','.join(row)!r}")
        src, dst = row[0].strip(), row[1].strip()
        if lineno == 1 and src.lower() in {"source", "src", "from", "pre"}:
            continue
        if not src or not dst:
            raise DataError(f"{p.name} line {lineno}: empty node id; every line needs 'source,target'")
        nodes.setdefault(src)
        nodes.setdefault(dst)
        edges.append((src, dst))
    if not nodes:
        raise DataError(f"{p.name} has no edges; write one 'source,target' per line")
    return Graph(tuple(nodes), tuple(edges), name=p.stem)


def graph_from_weights(weights: Sequence[np.ndarray], threshold: float = 0.0,
                       name: str = "model") -> Graph:
    """Layers' weight matrices shaped [out, in] -> a graph with node ids `L{layer}:{index}`.

    `L0:*` are the input neurons, `L{l+1}:*` the neurons of layer l. A synapse is kept when
    |w| > threshold (so exact zeros are always pruned).
    """
    if len(weights) == 0:
        raise DataError("no weight matrices given; a model needs at least one layer")
    mats = [np.asarray(w, dtype=float) for w in weights]
    for li, w in enumerate(mats):
        if w.ndim != 2:
            raise DataError(f"layer {li} weight has shape {w.shape}; expected [out, in]")
        if li and w.shape[1] != mats[li - 1].shape[0]:
            raise DataError(f"layer {li} takes {w.shape[1]} inputs but layer {li - 1} has "
                            f"{mats[li - 1].shape[0]} neurons; layers must chain")
    if threshold < 0:
        raise ConfigError(f"prune threshold {threshold} is negative; use a value >= 0")
    nodes = [f"L0:{i}" for i in range(mats[0].shape[1])]
    edges: list[tuple[str, str]] = []
    for li, w in enumerate(mats):
        nodes += [f"L{li + 1}:{o}" for o in range(w.shape[0])]
        outs, ins = np.nonzero(np.abs(w) > threshold)
        edges += [(f"L{li}:{i}", f"L{li + 1}:{o}") for o, i in zip(outs.tolist(), ins.tolist(), strict=True)]
    inputs = tuple(f"L0:{i}" for i in range(mats[0].shape[1]))
    outputs = tuple(f"L{len(mats)}:{o}" for o in range(mats[-1].shape[0]))
    return Graph(tuple(nodes), tuple(edges), inputs, outputs, name=name)


_WEIGHT_NODES = ("Affine", "Linear")


def _population_size(node: Any) -> int | None:
    for attr in ("input_type", "output_type"):
        t = getattr(node, attr, None)
        if isinstance(t, Mapping) and t:
            shape = next(iter(t.values()))
            arr = np.asarray(shape).ravel()
            if arr.size:
                return int(np.prod(arr))
    for attr in ("v_threshold", "tau", "tau_mem", "r", "threshold"):
        v = getattr(node, attr, None)
        if v is not None:
            return int(np.asarray(v).size)
    return None


def graph_from_nir(nir_graph: Any, threshold: float = 0.0, name: str = "nir") -> Graph:
    """A NIR graph: neuron populations become `{node}:{index}` neurons, and Affine/Linear
    weights become synapses between the populations they join (|w| > threshold kept)."""
    nodes_by_name: dict[str, Any] = dict(getattr(nir_graph, "nodes", {}))
    if not nodes_by_name:
        raise DataError(f"NIR graph {name!r} has no nodes; export the network with its nodes")
    succ: dict[str, list[str]] = {k: [] for k in nodes_by_name}
    pred: dict[str, list[str]] = {k: [] for k in nodes_by_name}
    for src, dst in getattr(nir_graph, "edges", []):
        if src not in nodes_by_name or dst not in nodes_by_name:
            raise DataError(f"NIR edge {src!r} -> {dst!r} names an unknown node; fix the graph")
        succ[src].append(dst)
        pred[dst].append(src)

    def kind(k: str) -> str:
        return type(nodes_by_name[k]).__name__

    sizes: dict[str, int] = {}
    for k, node in nodes_by_name.items():
        if kind(k) in _WEIGHT_NODES or (kind(k) == "Output" and any(kind(p) not in _WEIGHT_NODES for p in pred[k])):
            continue
        size = None
        for p in pred[k]:
            if kind(p) in _WEIGHT_NODES:
                size = int(np.asarray(nodes_by_name[p].weight).shape[0])
        sizes[k] = size if size is not None else (_population_size(node) or 0)
    nodes = [f"{k}:{i}" for k, s in sizes.items() for i in range(s)]
    edges: list[tuple[str, str]] = []
    for k, node in nodes_by_name.items():
        if kind(k) not in _WEIGHT_NODES:
            continue
        w = np.asarray(node.weight, dtype=float)
        if w.ndim != 2:
            raise DataError(f"NIR node {k!r} has a weight of shape {w.shape}; only [out, in] matrices map to crossbars")
        for p in pred[k]:
            for s in succ[k]:
                if p not in sizes or s not in sizes:
                    continue
                if sizes[p] != w.shape[1] or sizes[s] != w.shape[0]:
                    raise DataError(f"NIR node {k!r} weight {w.shape} does not join {p!r} ({sizes[p]}) "
                                    f"and {s!r} ({sizes[s]}); fix the graph")
                outs, ins = np.nonzero(np.abs(w) > threshold)
                edges += [(f"{p}:{i}", f"{s}:{o}") for o, i in zip(outs.tolist(), ins.tolist(), strict=True)]
    inputs = tuple(n for n in nodes if kind(n.rsplit(":", 1)[0]) == "Input")
    out_pops = {p for k in nodes_by_name if kind(k) == "Output" for p in pred[k] if p in sizes}
    out_pops |= {k for k in sizes if kind(k) == "Output"}
    outputs = tuple(n for n in nodes if n.rsplit(":", 1)[0] in out_pops)
    return Graph(tuple(nodes), tuple(edges), inputs, outputs, name=name)


def load_nir(path: str | os.PathLike[str], threshold: float = 0.0) -> Graph:
    try:
        import nir
    except ImportError:
        raise ConfigError("reading NIR files needs the 'nir' package; pip install 'spikeloom[nir]'") from None
    p = Path(path)
    if not p.exists():
        raise DataError(f"network file {str(p)!r} does not exist; check the path")
    try:
        g = nir.read(str(p))
    except Exception as exc:  # h5py/nir raise many kinds
        raise DataError(f"{str(p)!r} is not a readable NIR file ({type(exc).__name__}); re-export it with nir.write") from None
    return graph_from_nir(g, threshold=threshold, name=p.stem)


def load_network(path: str | os.PathLike[str], threshold: float = 0.0) -> Graph:
    """Pick the importer by file suffix: .json (TENNLab), .txt (TENNLab JSON text),
    .csv/.tsv/.edges (edge list), .nir/.h5/.hdf5 (NIR)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in {".json", ".txt"}:
        return load_tennlab(p)
    if suffix in {".csv", ".edges", ".tsv"}:
        return load_edge_csv(p)
    if suffix in {".nir", ".h5", ".hdf5"}:
        return load_nir(p, threshold)
    raise ConfigError(f"cannot tell the format of {p.name!r}; use .json (TENNLab), .csv (edge list) or .nir")


def load_profile(path: str | os.PathLike[str]) -> dict[str, float]:
    """A spike profile: JSON {neuron id: count} (optionally under "spike_counts") or CSV `id,count`."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"profile file {str(p)!r} does not exist; check --profile")
    if p.suffix.lower() == ".json":
        data = _read_json(p)
        if isinstance(data, Mapping) and isinstance(data.get("spike_counts"), Mapping):
            data = data["spike_counts"]
        if not isinstance(data, Mapping):
            raise DataError(f"{p.name} must hold a JSON object {{neuron id: spike count}}")
        items = list(data.items())
    else:
        items = []
        for lineno, row in enumerate(csv.reader(p.read_text(encoding="utf-8").splitlines()), 1):
            if not row or row[0].strip().startswith("#"):
                continue
            if len(row) < 2:
                raise DataError(f"{p.name} line {lineno}: expected 'neuron,count'")
            items.append((row[0].strip(), row[1].strip()))
        if items and items[0][1].lower() in {"count", "spikes", "rate", "value"}:
            items = items[1:]
    out: dict[str, float] = {}
    for k, v in items:
        try:
            out[str(k)] = float(v)
        except (TypeError, ValueError):
            raise DataError(f"{p.name}: spike count for neuron {k!r} is {v!r}, not a number") from None
    return out
