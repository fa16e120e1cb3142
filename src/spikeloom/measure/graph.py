"""The one bridge from a model to the (torch-free) crossbar mapper: weights pruned by an
explicit `PruningPolicy` become a neuron graph (ids `L0:i` for inputs, `L{l+1}:o` for layer
l's neurons), and a spike profile gives each neuron's mean spikes per sample (W_k of the
packet objective). `run`, `map --model` and the architecture search all map through here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from spikeloom.errors import ConfigError
from spikeloom.hw.graph import Graph
from spikeloom.hw.importers import graph_from_weights
from spikeloom.snn.inference import spike_counts
from spikeloom.spec import ModelConfig, Spec


@dataclass(frozen=True)
class PruningPolicy(Spec):
    """Which synapses of a model reach the mapper.

    fan_in: keep each neuron's `fan_in` largest |w| (None: keep all; a crossbar takes at most
    its input count as axons); threshold: then drop synapses with |w| <= threshold (exact
    zeros are always dropped); drop_idle: leave out inputs that drive nothing and hidden
    neurons that receive or send nothing (they cannot spike or cannot matter); outputs stay.
    """

    fan_in: int | None = None
    threshold: float = 0.0
    drop_idle: bool = True

    def __post_init__(self) -> None:
        if self.fan_in is not None and self.fan_in < 1:
            raise ConfigError(f"fan-in limit {self.fan_in} must be >= 1")
        if self.threshold < 0:
            raise ConfigError(f"prune threshold {self.threshold} is negative; use a value >= 0")


def prune_weights(weights: list[torch.Tensor], policy: PruningPolicy) -> list[torch.Tensor]:
    """Weights [out, in] per layer with the synapses `policy` drops set to zero."""
    out = []
    for w in weights:
        w = w.detach().float().cpu()
        if policy.fan_in is not None and w.shape[1] > policy.fan_in:
            keep = w.abs().topk(policy.fan_in, dim=1).indices
            w = torch.zeros_like(w).scatter(1, keep, w.gather(1, keep))
        out.append(torch.where(w.abs() > policy.threshold, w, torch.zeros_like(w)))
    return out


def prune_model(model: nn.Module, policy: PruningPolicy) -> nn.Module:
    """A copy of `model` computing with the weights the mapper sees (for re-evaluation)."""
    import copy  # noqa: PLC0415

    pruned = copy.deepcopy(model)
    with torch.no_grad():
        for fc, w in zip(pruned.fcs, prune_weights([fc.weight for fc in model.fcs], policy)):
            fc.weight.copy_(w.to(fc.weight.device))
    return pruned


def _idle(weights: list[np.ndarray]) -> set[str]:
    """Ids of inputs without outgoing synapses and hidden neurons without in- or out-synapses."""
    nz = [w != 0 for w in weights]
    idle = {f"L0:{i}" for i in np.flatnonzero(~nz[0].any(0))}
    for layer in range(len(nz) - 1):
        dead = ~nz[layer].any(1) | ~nz[layer + 1].any(0)
        idle |= {f"L{layer + 1}:{o}" for o in np.flatnonzero(dead)}
    return idle


def graph_from_layers(weights: list[torch.Tensor], policy: PruningPolicy = PruningPolicy(),
                      name: str = "model") -> Graph:
    """The mapper's graph of layer weights [out, in] under `policy`."""
    mats = [w.numpy() for w in prune_weights(weights, policy)]
    graph = graph_from_weights(mats, name=name)
    if not policy.drop_idle:
        return graph
    idle = _idle(mats)
    return Graph(tuple(n for n in graph.nodes if n not in idle),
                 tuple(e for e in graph.edges if e[0] not in idle and e[1] not in idle),
                 tuple(n for n in graph.inputs if n not in idle), graph.outputs, name=name)


def graph_from_model(model: nn.Module, policy: PruningPolicy = PruningPolicy(),
                     name: str = "model") -> Graph:
    return graph_from_layers([fc.weight for fc in model.fcs], policy, name)


def checkpoint_path(path: str | os.PathLike[str]) -> Path:
    """A checkpoint file, or the model.pt inside a folder."""
    p = Path(path)
    return p / "model.pt" if p.is_dir() else p


def graph_from_checkpoint(path: str | os.PathLike[str], policy: PruningPolicy = PruningPolicy()) -> Graph:
    """The mapper's graph of a checkpoint's layers under `policy`."""
    from spikeloom.snn.checkpoint import load_checkpoint  # noqa: PLC0415

    p = checkpoint_path(path)
    model = load_checkpoint(p).build("cpu")
    return graph_from_model(model, policy, name=p.parent.name or p.stem)


def spike_profile(model: nn.Module, cfg: ModelConfig, x: torch.Tensor, seed: int = 0) -> dict[str, float]:
    """Mean spikes per sample of every neuron (inputs included) on x [N, D], recorded with the
    evaluation encoding (seed `seed`). Only for SNNs."""
    if cfg.arch != "snn":
        raise ConfigError("a spike profile needs an SNN checkpoint (this one is an ANN); pass --profile FILE")
    if len(x) == 0:
        raise ConfigError("a spike profile needs at least one sample; raise --profile-samples")
    prof: dict[str, float] = {}
    for li, counts in enumerate(spike_counts(model, cfg, x, seed)):
        prof.update({f"L{li}:{i}": float(c) / len(x) for i, c in enumerate(counts.tolist())})
    return prof
