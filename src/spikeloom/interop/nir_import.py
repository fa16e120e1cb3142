"""A feed-forward NIR graph -> a spikeloom SNN (`ModelConfig` + state dict).

NIR describes neurons in continuous time; spikeloom steps them with a time step dt. Each
neuron node is discretised by forward Euler, which is exactly how snnTorch, Norse and others
export their discrete neurons (snnTorch writes tau = dt / (1 - beta), r = tau / dt, dt = 1e-4):

    LIF      tau dv/dt = (v_leak - v) + r I     ->  v[t] = beta v[t-1] + g I[t] + c
             beta = 1 - dt / tau,   g = dt r / tau,   c = dt v_leak / tau
    IF       dv/dt = r I                         ->  beta = 1, g = dt r, c = 0
    LI       as LIF without spikes               ->  membrane readout (last layer only)
    CubaLIF  tau_syn dI/dt = -I + w_in S, then LIF on I; exact only when tau_syn = dt
             (the synaptic current has no memory, alpha = 1 - dt / tau_syn = 0):
             g = (w_in dt / tau_syn) (dt r / tau_mem)

g scales the rows of the preceding Affine/Linear weight and c is added to its bias, so the
model's current is W' x + b' with W' = g W, b' = g b + c. A gain within 1e-6 of 1 (the float32
rounding of an exporter's tau and r) is taken as exactly 1 and the weights are copied bit for bit.
theta = v_threshold. v_reset = 0 is spikeloom's zero reset; NIR has no subtractive reset,
so a graph whose metadata says `reset_mode: subtract` (as `spikeloom export
--allow-subtract` writes) or an explicit `reset='subtract'` gives a subtractive-reset model.

Refused, with one line naming the node: recurrence (cycles or nested NIR graphs), branches,
convolutions, pooling, delays, synaptic-current state, per-neuron time constants or
thresholds that differ, v_reset != 0, unknown node types.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spikeloom.errors import ConfigError, DataError
from spikeloom.spec import ModelConfig

NEURONS = ("LIF", "IF", "LI", "CubaLIF")
WEIGHTS = ("Affine", "Linear")
SUPPORTED = ("Input", "Output", "Flatten", *WEIGHTS, *NEURONS)
GAIN_TOLERANCE = 1e-6
_WHY_NOT = {
    "NIRGraph": "a nested NIR graph (how recurrent layers such as snnTorch's RLeaky/RSynaptic "
                "are exported); spikeloom models are feed-forward",
    "Conv1d": "a convolution; spikeloom models are fully connected MLPs",
    "Conv2d": "a convolution; spikeloom models are fully connected MLPs",
    "Delay": "a synaptic delay; spikeloom synapses act within one time step",
    "CubaLI": "a non-spiking neuron with synaptic-current state, which spikeloom does not model",
    "SumPool2d": "pooling; spikeloom models are fully connected MLPs",
    "AvgPool2d": "pooling; spikeloom models are fully connected MLPs",
}


def require_nir() -> Any:
    """The `nir` module, or a one-line `ConfigError` naming the extra."""
    try:
        import nir  # noqa: PLC0415
    except ImportError:
        raise ConfigError("NIR import/export needs the 'nir' package; "
                          "pip install 'spikeloom[nir]'") from None
    return nir


def _kind(node: Any) -> str:
    return type(node).__name__


def _check_types(data: dict[str, Any], nir: Any, where: str = "") -> None:
    """Name the first node whose type this NIR version does not know (before NIR trips on it)."""
    for name, node in (data.get("nodes") or {}).items():
        kind = node.get("type") if isinstance(node, dict) else None
        kind = kind.decode() if isinstance(kind, bytes) else kind
        cls = getattr(nir, str(kind), None)
        if not (isinstance(cls, type) and issubclass(cls, nir.NIRNode)):
            raise DataError(f"NIR node {where}{name!r} has unknown type {kind!r} (not a node "
                            f"type of nir {getattr(nir, 'version', '?')}); re-export the network "
                            "with node types from the NIR spec")
        if kind == "NIRGraph":
            _check_types(node, nir, f"{where}{name}.")


def read_nir_file(path: str | os.PathLike[str]) -> Any:
    """Read a file written by `nir.write`; `DataError` (one line) when missing, corrupt or
    holding node types NIR does not know. Types are checked by spikeloom, not by NIR."""
    nir = require_nir()
    import h5py  # noqa: PLC0415 - a dependency of nir
    from nir.serialization import hdf2dict  # noqa: PLC0415

    p = Path(path)
    if not p.is_file():
        raise DataError(f"NIR file {str(p)!r} does not exist; check --nir")
    try:
        with h5py.File(p, "r") as f:
            data = hdf2dict(f["node"])
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"{str(p)!r} is not a readable NIR file ({type(exc).__name__}: corrupt, "
                        "truncated or not HDF5); re-export it with nir.write") from None
    if not isinstance(data, dict) or data.get("type") not in ("NIRGraph", b"NIRGraph"):
        raise DataError(f"{str(p)!r} holds a single NIR node, not a graph; "
                        "export the whole network as a NIRGraph")
    _check_types(data, nir)
    data["type_check"] = False
    try:
        return nir.dict2NIRNode(data)
    except Exception as exc:  # noqa: BLE001 - NIR raises many kinds for malformed nodes
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
        raise DataError(f"{str(p)!r} has a malformed NIR node ({first}); "
                        "re-export it with nir.write") from None


@dataclass(frozen=True)
class ImportedModel:
    """An imported SNN: config, state dict, and one record per layer of how it was converted.

    dt: the time step in seconds used for the conversion (None when no node needed it);
    dt_source: 'flag' or 'graph metadata'.
    """

    model_config: ModelConfig
    state_dict: dict[str, torch.Tensor]
    layers: tuple[dict[str, Any], ...]
    dt: float | None
    dt_source: str | None
    notes: tuple[str, ...] = field(default=())


def _values(node: Any, name: str, attr: str, size: int) -> np.ndarray:
    """A node parameter as float64 [size] (a scalar or a one-element array broadcasts)."""
    raw = getattr(node, attr, None)
    if raw is None:
        raise DataError(f"NIR node {name!r} ({_kind(node)}) has no {attr}; re-export the network")
    arr = np.asarray(raw, dtype=np.float64).ravel()
    if arr.size == 1:
        return np.full(size, arr[0])
    if arr.size != size:
        raise DataError(f"NIR node {name!r} ({_kind(node)}) has {arr.size} values of {attr} "
                        f"but its layer has {size} neurons; fix the graph")
    if not np.all(np.isfinite(arr)):
        raise DataError(f"NIR node {name!r} ({_kind(node)}) has a non-finite {attr}; fix the graph")
    return arr


def _uniform(arr: np.ndarray, name: str, node: Any, what: str) -> float:
    if np.any(arr != arr[0]):
        raise DataError(f"NIR node {name!r} ({_kind(node)}): per-neuron {what} differ "
                        f"({arr.min():.6g} .. {arr.max():.6g}); a spikeloom layer has one "
                        "value for all its neurons")
    return float(arr[0])


def _snap_gain(gain: np.ndarray) -> tuple[np.ndarray, bool]:
    """Gains within GAIN_TOLERANCE of 1 become exactly 1 (weights copied bit for bit)."""
    if np.all(np.abs(gain - 1.0) <= GAIN_TOLERANCE):
        return np.ones_like(gain), bool(np.any(gain != 1.0))
    return gain, False


def _meta_str(meta: Any, key: str) -> str | None:
    if not isinstance(meta, dict) or key not in meta:
        return None
    v = meta[key]
    v = v.decode() if isinstance(v, bytes) else v
    return str(v.item() if hasattr(v, "item") else v)


def _neuron(name: str, node: Any, size: int, dt: float, reset: str | None,
            last: bool) -> dict[str, Any]:
    """Discretise one neuron node: beta, threshold, per-neuron gain g and offset c, reset."""
    kind = _kind(node)
    if kind == "LI" and not last:
        raise DataError(f"NIR node {name!r} (LI) is a non-spiking layer inside the network; "
                        "spikeloom allows LI only as the output layer (membrane readout)")
    rec: dict[str, Any] = {"neuron_node": name, "neuron_type": kind, "size": size}
    r = _values(node, name, "r", size)
    if kind == "IF":
        beta64 = np.ones(size)
        gain = dt * r
        offset = np.zeros(size)
        rec["rule"] = "beta = 1; weights x dt*r"
    else:
        tau_attr = "tau_mem" if kind == "CubaLIF" else "tau"
        tau = _values(node, name, tau_attr, size)
        if np.any(tau <= 0):
            raise DataError(f"NIR node {name!r} ({kind}) has {tau_attr} <= 0; fix the graph")
        if np.any(dt > tau):
            raise DataError(f"NIR node {name!r} ({kind}): --dt {dt:g} s exceeds {tau_attr} "
                            f"{tau.min():.6g} s (beta = 1 - dt/tau < 0); use a smaller --dt")
        beta64 = 1.0 - dt / tau
        gain = dt * r / tau
        offset = dt * _values(node, name, "v_leak", size) / tau
        rec[tau_attr] = _uniform(tau, name, node, f"time constants ({tau_attr})")
        rec["rule"] = f"beta = 1 - dt/{tau_attr}; weights x dt*r/{tau_attr}; bias + dt*v_leak/{tau_attr}"
        if kind == "CubaLIF":
            tau_syn = _values(node, name, "tau_syn", size)
            alpha = 1.0 - dt / tau_syn
            if np.any(np.abs(alpha) > GAIN_TOLERANCE):
                raise DataError(f"NIR node {name!r} (CubaLIF): tau_syn {tau_syn.max():.6g} s gives a "
                                f"synaptic decay alpha = 1 - dt/tau_syn = {alpha.max():.6g} at --dt {dt:g}; "
                                "spikeloom neurons have no synaptic-current state (exact only when "
                                "tau_syn = dt)")
            w_in = _values(node, name, "w_in", size)
            gain = gain * w_in * dt / tau_syn
            rec["rule"] += "; x w_in*dt/tau_syn (alpha = 0)"
    beta32 = beta64.astype(np.float32)
    rec["beta"] = _uniform(beta32.astype(np.float64), name, node, "time constants (beta)")
    rec["r"] = float(r[0]) if np.all(r == r[0]) else [float(r.min()), float(r.max())]
    gain, snapped = _snap_gain(gain)
    rec["gain"] = float(gain[0]) if np.all(gain == gain[0]) else [float(gain.min()), float(gain.max())]
    rec["gain_snapped_to_1"] = snapped
    rec["v_leak_offset"] = bool(np.any(offset != 0))
    if kind == "LI":
        rec["reset"] = None
        rec["threshold"] = None
    else:
        theta = _uniform(_values(node, name, "v_threshold", size), name, node, "thresholds (v_threshold)")
        if not theta > 0:
            raise DataError(f"NIR node {name!r} ({kind}) has v_threshold {theta:g}; spikeloom "
                            "needs a positive threshold")
        v_reset = _values(node, name, "v_reset", size)
        mode = reset or _meta_str(getattr(node, "metadata", None), "reset_mode")
        if mode is None:
            if np.any(v_reset != 0):
                raise DataError(f"NIR node {name!r} ({kind}) resets to v_reset = {v_reset.max():.6g}; "
                                "spikeloom resets to 0 (zero reset) or subtracts theta")
            mode = "zero"
        rec.update(threshold=theta, v_reset=float(v_reset[0]), reset=mode)
    rec["_gain"], rec["_offset"] = gain, offset
    return rec


def _chain(graph: Any) -> list[str]:
    """Node names from Input to Output; refuses recurrence, branches and stray nodes."""
    nodes: dict[str, Any] = dict(graph.nodes)
    for name, node in nodes.items():
        kind = _kind(node)
        if kind not in SUPPORTED:
            why = _WHY_NOT.get(kind, f"a node type spikeloom does not import (supported: "
                                     f"{', '.join(SUPPORTED)})")
            raise DataError(f"NIR node {name!r} ({kind}) is {why}")
    succ: dict[str, list[str]] = {k: [] for k in nodes}
    pred: dict[str, list[str]] = {k: [] for k in nodes}
    for edge in graph.edges:
        src, dst = (str(e) for e in edge)
        if src not in nodes or dst not in nodes:
            raise DataError(f"NIR edge {src!r} -> {dst!r} names an unknown node; fix the graph")
        succ[src].append(dst)
        pred[dst].append(src)
    # recurrence: a depth-first search meeting a node still on its stack
    state: dict[str, int] = {}
    for root in nodes:
        if root in state:
            continue
        stack = [(root, iter(succ[root]))]
        state[root] = 1
        while stack:
            here, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[here] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                raise DataError(f"NIR graph has a recurrent edge {here!r} -> {nxt!r} (a cycle); "
                                "spikeloom models are feed-forward")
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(succ[nxt])))
    inputs = [k for k, n in nodes.items() if _kind(n) == "Input"]
    outputs = [k for k, n in nodes.items() if _kind(n) == "Output"]
    if len(inputs) != 1 or len(outputs) != 1:
        raise DataError(f"NIR graph has {len(inputs)} Input and {len(outputs)} Output nodes; "
                        "spikeloom imports graphs with exactly one of each")
    order = [inputs[0]]
    while succ[order[-1]]:
        here = order[-1]
        if len(succ[here]) > 1:
            raise DataError(f"NIR node {here!r} feeds {len(succ[here])} nodes; spikeloom models "
                            "are single chains without branches")
        nxt = succ[here][0]
        if len(pred[nxt]) > 1:
            raise DataError(f"NIR node {nxt!r} merges {len(pred[nxt])} inputs; spikeloom models "
                            "are single chains without branches")
        order.append(nxt)
    if order[-1] != outputs[0]:
        raise DataError(f"the path from Input {inputs[0]!r} ends at {order[-1]!r}, not at the "
                        f"Output {outputs[0]!r}; fix the graph's edges")
    stray = [k for k in nodes if k not in order]
    if stray:
        raise DataError(f"NIR node {stray[0]!r} is not on the path from Input to Output; "
                        "remove it or connect it")
    return order


def _input_size(node: Any) -> int | None:
    types = getattr(node, "input_type", None) or getattr(node, "output_type", None) or {}
    for shape in dict(types).values():
        arr = np.asarray(shape).ravel()
        if arr.size:
            return int(np.prod(arr))
    return None


def model_from_nir(graph: Any, dt: float | None = None, *, encoding: str | None = None,
                   timesteps: int | None = None, reset: str | None = None) -> ImportedModel:
    """Convert a NIR graph (from `read_nir_file` or an exporter) to a spikeloom SNN.

    dt: time step in seconds (`None`: the graph's metadata `dt`, written by spikeloom export;
    missing -> `ConfigError`). encoding / timesteps: how the model is to be fed (NIR does not
    say; None: the graph's metadata as spikeloom export writes it, else 'rate' and 25).
    reset: 'zero' or 'subtract' to override the reset read from the graph.
    """
    meta = getattr(graph, "metadata", None)
    encoding = encoding or _meta_str(meta, "encoding") or "rate"
    timesteps = timesteps or int(float(_meta_str(meta, "timesteps") or 25))
    if reset is not None and reset not in ("zero", "subtract"):
        raise ConfigError(f"unknown reset mode {reset!r}; choose zero or subtract")
    order = _chain(graph)
    nodes = dict(graph.nodes)
    body = order[1:-1]
    notes: list[str] = []
    if body and _kind(nodes[body[0]]) == "Flatten":
        notes.append(f"node {body[0]!r} (Flatten) dropped: spikeloom inputs are flat vectors")
        body = body[1:]
    needs_dt = [k for k in body if _kind(nodes[k]) in NEURONS]
    dt_source = None
    if needs_dt:
        if dt is None:
            meta_dt = _meta_str(getattr(graph, "metadata", None), "dt")
            if meta_dt is None:
                first = needs_dt[0]
                raise ConfigError(f"NIR node {first!r} ({_kind(nodes[first])}) is a continuous-time "
                                  "neuron; give the time step with --dt SECONDS (snnTorch's "
                                  "exporter uses --dt 1e-4)")
            dt, dt_source = float(meta_dt), "graph metadata"
        else:
            dt_source = "flag"
        if not (np.isfinite(dt) and dt > 0):
            raise ConfigError(f"--dt must be a positive number of seconds, got {dt}")
    if reset is None:
        reset = _meta_str(getattr(graph, "metadata", None), "reset_mode")
    layers: list[dict[str, Any]] = []
    weights: list[tuple[np.ndarray, np.ndarray | None]] = []
    i = 0
    while i < len(body):
        wname = body[i]
        wnode = nodes[wname]
        if _kind(wnode) not in WEIGHTS:
            raise DataError(f"NIR node {wname!r} ({_kind(wnode)}) is not preceded by an Affine or "
                            "Linear layer; spikeloom layers are weights followed by neurons")
        if i + 1 >= len(body) or _kind(nodes[body[i + 1]]) not in NEURONS:
            after = body[i + 1] if i + 1 < len(body) else order[-1]
            raise DataError(f"NIR node {wname!r} ({_kind(wnode)}) is followed by {after!r} "
                            f"({_kind(nodes[after])}), not by neurons; spikeloom layers are "
                            "weights followed by LIF/IF/CubaLIF (or LI at the output)")
        w = np.asarray(wnode.weight, dtype=np.float32)
        if w.ndim != 2:
            raise DataError(f"NIR node {wname!r} ({_kind(wnode)}) has a weight of shape {w.shape}; "
                            "spikeloom layers need [out, in] matrices")
        bias = getattr(wnode, "bias", None) if _kind(wnode) == "Affine" else None
        b = None if bias is None else np.asarray(bias, dtype=np.float32).ravel()
        if b is not None and b.size != w.shape[0]:
            raise DataError(f"NIR node {wname!r} (Affine) has {b.size} biases for {w.shape[0]} outputs")
        if weights and w.shape[1] != weights[-1][0].shape[0]:
            raise DataError(f"NIR node {wname!r} takes {w.shape[1]} inputs but the layer before "
                            f"has {weights[-1][0].shape[0]} neurons; fix the graph")
        nname = body[i + 1]
        rec = _neuron(nname, nodes[nname], w.shape[0], float(dt), reset, last=i + 2 >= len(body))
        rec = {"layer": len(layers) + 1, "weight_node": wname, "weight_type": _kind(wnode),
               "fan_in": int(w.shape[1]), **rec}
        layers.append(rec)
        weights.append((w, b))
        i += 2
    if not layers:
        raise DataError("NIR graph has no Affine/Linear + neuron layer; nothing to import")
    in_size = _input_size(nodes[order[0]])
    if in_size is not None and in_size != weights[0][0].shape[1]:
        raise DataError(f"NIR Input {order[0]!r} has {in_size} values but the first layer takes "
                        f"{weights[0][0].shape[1]}; fix the graph")
    modes = {rec["reset"] for rec in layers if rec["reset"] is not None}
    if len(modes) > 1:
        raise DataError(f"NIR layers mix reset modes {sorted(modes)}; spikeloom models use one")
    mode = modes.pop() if modes else "zero"
    readout = "membrane" if layers[-1]["neuron_type"] == "LI" else "count"
    bias = any(b is not None for _, b in weights) or any(r["v_leak_offset"] for r in layers)
    topology = (int(weights[0][0].shape[1]), *(int(w.shape[0]) for w, _ in weights))
    spiking = [r for r in layers if r["threshold"] is not None]
    cfg = ModelConfig(arch="snn", topology=topology, timesteps=int(timesteps),
                      threshold=spiking[0]["threshold"] if spiking else 1.0,
                      beta=layers[0]["beta"], reset=mode, bias=bias, readout=readout,
                      encoding=encoding)
    state: dict[str, torch.Tensor] = {}
    for li, ((w, b), rec) in enumerate(zip(weights, layers)):
        gain, offset = rec.pop("_gain"), rec.pop("_offset")
        if np.all(gain == 1.0):
            w_new = w.copy()
        else:
            w_new = (gain[:, None] * w.astype(np.float64)).astype(np.float32)
        state[f"fcs.{li}.weight"] = torch.from_numpy(w_new)
        if bias:
            b64 = np.zeros(w.shape[0]) if b is None else b.astype(np.float64)
            b_new = b.copy() if (b is not None and np.all(gain == 1.0) and np.all(offset == 0)) \
                else (gain * b64 + offset).astype(np.float32)
            state[f"fcs.{li}.bias"] = torch.from_numpy(b_new)
        state[f"lifs.{li}.beta"] = torch.tensor(rec["beta"], dtype=torch.float32)
        if rec["threshold"] is not None:
            state[f"lifs.{li}.threshold"] = torch.tensor(rec["threshold"], dtype=torch.float32)
    return ImportedModel(cfg, state, tuple(layers), None if not needs_dt else float(dt),
                         dt_source, tuple(notes))
