"""A spikeloom SNN -> a NIR graph (the inverse of `nir_import`, same forward-Euler convention).

Nodes: `input`, then per layer l `fc{l}` (Affine with bias, else Linear) and `lif{l}`, then
`output`. A layer with decay beta < 1 becomes LIF with tau = dt / (1 - beta), r = tau / dt,
v_leak = 0 (so dt r / tau = 1: the weights are written unchanged); beta = 1 becomes IF with
r = 1 / dt; a membrane readout becomes LI. theta -> v_threshold, zero reset -> v_reset = 0.
Parameters are per-neuron float32 arrays (NIR's type inference needs the layer size).

NIR's neurons reset to v_reset and cannot express subtractive reset (U -= theta). Such a model
is refused unless `allow_subtract`: then it is written with `reset_mode: subtract` in the
metadata of the graph and of every spiking node; spikeloom's importer reads it back exactly,
other tools that ignore the metadata will run it with reset to zero.
The graph's metadata also records dt, the encoding and the time steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from spikeloom.errors import ConfigError
from spikeloom.interop.nir_import import require_nir
from spikeloom.spec import ModelConfig


@dataclass(frozen=True)
class LayerValues:
    """One layer as numbers: weight [out, in], bias [out] or None, decay beta, threshold
    (None for the membrane readout)."""

    weight: np.ndarray
    bias: np.ndarray | None
    beta: float
    threshold: float | None


def layer_values(model: Any) -> list[LayerValues]:
    """The numbers of a built `SpikingMLP` (quantized layers as the model runs them)."""
    out = []
    for fc, neuron in zip(model.fcs, model.lifs):
        bias = None if fc.bias is None else fc.bias.detach().cpu().float().numpy()
        theta = getattr(neuron, "threshold", None)
        out.append(LayerValues(fc.weight.detach().cpu().float().numpy(), bias,
                               float(neuron.beta.detach().clamp(0.0, 1.0)),
                               None if theta is None else float(theta.detach())))
    return out


def _full(n: int, value: float) -> np.ndarray:
    return np.full(n, value, dtype=np.float32)


def nir_graph(cfg: ModelConfig, layers: Sequence[LayerValues], dt: float = 1e-4,
              allow_subtract: bool = False) -> Any:
    """The NIR graph of an SNN with these layers. dt: time step in seconds (snnTorch's
    importer assumes 1e-4). `ConfigError` for an ANN, a bad dt, or subtractive reset
    without `allow_subtract`."""
    nir = require_nir()
    if cfg.arch != "snn":
        raise ConfigError("NIR describes spiking networks; export an SNN checkpoint "
                          "(this one is an ANN)")
    if not (np.isfinite(dt) and dt > 0):
        raise ConfigError(f"--dt must be a positive number of seconds, got {dt}")
    subtract = cfg.reset == "subtract"
    if subtract and not allow_subtract:
        raise ConfigError("the model resets by subtraction (U -= theta after a spike), which NIR's "
                          "reset-to-v_reset neurons cannot express; export a zero-reset model, or "
                          "pass --allow-subtract to write it with reset_mode 'subtract' in the "
                          "metadata (tools that ignore it will reset to zero)")
    reset_meta = {"reset_mode": "subtract"} if subtract else {}
    nodes: dict[str, Any] = {"input": nir.Input(input_type={"input": np.array([cfg.input_size])})}
    edges = [("input", "fc1")]
    for li, layer in enumerate(layers, start=1):
        w = np.asarray(layer.weight, dtype=np.float32)
        n = w.shape[0]
        nodes[f"fc{li}"] = (nir.Linear(weight=w) if layer.bias is None else
                            nir.Affine(weight=w, bias=np.asarray(layer.bias, dtype=np.float32)))
        beta = float(layer.beta)
        if beta < 1.0:
            tau = dt / (1.0 - beta)
            common = {"tau": _full(n, tau), "r": _full(n, tau / dt), "v_leak": _full(n, 0.0)}
        if layer.threshold is None:
            if beta >= 1.0:
                raise ConfigError(f"layer {li}: a membrane readout with beta = 1 has no NIR LI "
                                  "equivalent (tau would be infinite)")
            node = nir.LI(**common)
        elif beta >= 1.0:
            node = nir.IF(r=_full(n, 1.0 / dt), v_threshold=_full(n, layer.threshold),
                          v_reset=_full(n, 0.0), metadata=dict(reset_meta))
        else:
            node = nir.LIF(**common, v_threshold=_full(n, layer.threshold),
                           v_reset=_full(n, 0.0), metadata=dict(reset_meta))
        nodes[f"lif{li}"] = node
        edges.append((f"fc{li}", f"lif{li}"))
        edges.append((f"lif{li}", f"fc{li + 1}" if li < len(layers) else "output"))
    nodes["output"] = nir.Output(output_type={"output": np.array([cfg.num_classes])})
    meta = {"producer": "spikeloom", "dt": float(dt), "encoding": cfg.encoding,
            "timesteps": int(cfg.timesteps), "readout": cfg.readout, **reset_meta}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)
