"""Bridge from a trained spikeloom model to the (torch-free) crossbar mapper.

`graph_from_checkpoint` turns a checkpoint's layer weights into a neuron graph (ids
`L0:i` for inputs, `L{l+1}:o` for layer l's neurons); `spike_profile` records the model on a
data sample and returns each neuron's mean spike count per sample (W_k of the packet
objective). This is the only place where the mapping side touches PyTorch.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from spikeloom.errors import CheckpointError, ConfigError
from spikeloom.hw.graph import Graph
from spikeloom.hw.importers import graph_from_weights


def _checkpoint_path(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    return p / "model.pt" if p.is_dir() else p


def _layer_weights(state_dict: dict) -> list:
    keys = sorted((k for k in state_dict if re.fullmatch(r"fcs\.\d+\.weight", k)),
                  key=lambda k: int(k.split(".")[1]))
    if not keys:
        raise CheckpointError("the checkpoint has no fcs.{i}.weight layers; give a spikeloom MLP checkpoint")
    return [state_dict[k].detach().cpu().float().numpy() for k in keys]


def graph_from_checkpoint(path: str | os.PathLike[str], prune_threshold: float = 0.0) -> Graph:
    """The network of a checkpoint: synapses with |w| > prune_threshold."""
    from spikeloom.snn.checkpoint import load_checkpoint

    p = _checkpoint_path(path)
    ckpt = load_checkpoint(p)
    name = p.parent.name or p.stem
    return graph_from_weights(_layer_weights(ckpt.state_dict), threshold=prune_threshold, name=name)


def spike_profile(path: str | os.PathLike[str], dataset: str | None = None, n_samples: int = 64,
                  seed: int = 0, data_dir: str | None = None) -> dict[str, float]:
    """Mean spikes per sample of every neuron (inputs included) on `n_samples` test samples
    of `dataset` (default: the dataset the model was trained on)."""
    import torch

    from spikeloom.data import encode, load_dataset
    from spikeloom.snn.activity import record_spikes
    from spikeloom.snn.checkpoint import load_checkpoint

    if n_samples < 1:
        raise ConfigError(f"--profile-samples {n_samples} must be >= 1")
    ckpt = load_checkpoint(_checkpoint_path(path))
    cfg = ckpt.model_config
    if cfg.arch != "snn":
        raise ConfigError("a spike profile needs an SNN checkpoint (this one is an ANN); pass --profile FILE")
    ds = load_dataset(dataset or ckpt.train_config.dataset, data_dir)
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(ds.x_test), generator=g)[:n_samples]
    x = ds.x_test[idx]
    model = ckpt.build("cpu")
    x_seq = encode(x, cfg.encoding, cfg.timesteps, seed=seed)
    layers = record_spikes(model, x_seq)
    prof: dict[str, float] = {}
    n = float(len(idx))
    for li, spikes in enumerate(layers):
        counts = spikes.float().sum(dim=(0, 1)) / n
        prof.update({f"L{li}:{i}": float(c) for i, c in enumerate(counts.tolist())})
    return prof
