"""Signal space: what the neurons do over time (rasters, PSTHs, membranes, rates, embedding).

All functions are pure: they take spike trains or a model and return tensors or frozen
dataclasses; `plots` draws them. Shapes: T timesteps, n samples, N neurons of a layer.
Layers are numbered like the weight layers: 1 is the first hidden layer, L the output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from spikeloom.data.protocol import eval_batches
from spikeloom.errors import ConfigError
from spikeloom.explain.forward import trace
from spikeloom.snn.models import LIF, SpikingMLP
from spikeloom.spec import ModelConfig

EMBEDDINGS = ("pca", "tsne")


@dataclass(frozen=True)
class Activity:
    """Spike trains of a set of samples, recorded with the deterministic evaluation encoding.

    layers[i]: spikes [T, n, N_i] (uint8, CPU) of weight layer i+1 (hidden layers, then the
    output layer when it spikes); labels, predictions: [n] int64.
    """

    layers: tuple[torch.Tensor, ...]
    labels: torch.Tensor
    predictions: torch.Tensor

    @property
    def timesteps(self) -> int:
        return int(self.layers[0].shape[0])

    def counts(self, layer: int) -> torch.Tensor:
        """Spike counts per sample and neuron [n, N] (float32) of `layer` (1-based)."""
        return self.layers[_index(self, layer)].sum(0, dtype=torch.float32)


def _index(activity: Activity, layer: int) -> int:
    if not 1 <= layer <= len(activity.layers):
        raise ConfigError(f"layer {layer} does not exist; spiking layers are "
                          f"1..{len(activity.layers)} (1 = first hidden layer)")
    return layer - 1


@torch.no_grad()
def record_activity(model: nn.Module, cfg: ModelConfig, x: torch.Tensor, y: torch.Tensor,
                    seed: int = 0) -> Activity:
    """Spike trains of every spiking layer for images x [n, D] (labels y [n])."""
    if not isinstance(model, SpikingMLP):
        raise ConfigError("activity recording needs a spiking model; this checkpoint is an ANN")
    device = next(model.parameters()).device
    spiking = [i for i, m in enumerate(model.lifs) if isinstance(m, LIF)]
    parts: list[list[torch.Tensor]] = [[] for _ in spiking]
    preds = []
    for _, inputs in eval_batches(cfg, x, seed, device):
        run = trace(model, inputs)
        for k, i in enumerate(spiking):
            parts[k].append(run.spikes[i].to(torch.uint8).cpu())
        preds.append(run.logits.argmax(1).cpu())
    layers = tuple(torch.cat(p, dim=1) for p in parts)
    return Activity(layers, y.cpu().long(), torch.cat(preds))


def raster(spikes: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Spike times and neuron indices of one sample's train [T, N] (for a scatter plot)."""
    t, n = torch.nonzero(spikes, as_tuple=True)
    return t.cpu().numpy(), n.cpu().numpy()


def psth(activity: Activity, layer: int, num_classes: int) -> torch.Tensor:
    """Peri-stimulus time histogram [C, T]: mean spikes per neuron per timestep in `layer`,
    averaged over the samples of each true class (NaN for a class with no sample)."""
    spikes = activity.layers[_index(activity, layer)].float().mean(2)  # [T, n]
    out = torch.full((num_classes, spikes.shape[0]), float("nan"))
    for c in range(num_classes):
        rows = activity.labels == c
        if rows.any():
            out[c] = spikes[:, rows].mean(1)
    return out


def rate_map(activity: Activity, layer: int) -> torch.Tensor:
    """Firing rate [N, T] of each neuron of `layer` at each timestep (spikes per timestep,
    i.e. the fraction of samples in which it fired then)."""
    return activity.layers[_index(activity, layer)].float().mean(1).T


@dataclass(frozen=True)
class Embedding:
    """2-D map of neurons by their spike-count vectors over samples.

    coords [N, 2]; preferred [N]: class with the highest mean count (-1 = silent neuron);
    selectivity [N]: that class's share of the neuron's mean counts over classes (1/C =
    unselective, 1 = fires for one class only); explained: PCA variance ratio of the two
    axes (None for t-SNE).
    """

    layer: int
    method: str
    coords: np.ndarray
    preferred: np.ndarray
    selectivity: np.ndarray
    explained: tuple[float, float] | None


def class_means(counts: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Mean spike count per class and neuron [C, N] (0 for a class with no sample)."""
    out = torch.zeros(num_classes, counts.shape[1])
    for c in range(num_classes):
        rows = labels == c
        if rows.any():
            out[c] = counts[rows].mean(0)
    return out


def pca_2d(vectors: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """First two principal-component coordinates of the rows of `vectors` [N, n] and the
    variance ratio each explains. Uses the N x N Gram matrix (N neurons <= n samples
    usually), so it costs an N x N eigendecomposition; signs make the largest |loading|
    positive."""
    centred = vectors - vectors.mean(0, keepdims=True)
    eigvals, eigvecs = np.linalg.eigh(centred @ centred.T)
    order = np.argsort(eigvals)[::-1][:2]
    vals = np.clip(eigvals[order], 0, None)
    coords = eigvecs[:, order] * np.sqrt(vals)
    signs = np.sign(coords[np.abs(coords).argmax(0), range(coords.shape[1])])
    coords = coords * np.where(signs == 0, 1, signs)
    total = float(np.clip(eigvals, 0, None).sum())
    ratios = [float(v / total) if total > 0 else 0.0 for v in vals]
    if coords.shape[1] < 2:
        coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
        ratios.append(0.0)
    return coords, (ratios[0], ratios[1])


def embed_neurons(activity: Activity, layer: int, num_classes: int, method: str = "pca",
                  seed: int = 0) -> Embedding:
    """Embed the neurons of `layer` in 2-D by their spike-count vectors over the samples."""
    if method not in EMBEDDINGS:
        raise ConfigError(f"unknown embedding {method!r}; choose one of {', '.join(EMBEDDINGS)}")
    counts = activity.counts(layer)  # [n, N]
    vectors = counts.T.numpy().astype(np.float64)  # one row per neuron
    means = class_means(counts, activity.labels, num_classes)
    total = means.sum(0)
    preferred = torch.where(total > 0, means.argmax(0), torch.full_like(total, -1, dtype=torch.long))
    selectivity = torch.where(total > 0, means.max(0).values / total.clamp(min=1e-12),
                              torch.zeros_like(total))
    if method == "pca" or vectors.shape[0] < 5:
        coords, explained = pca_2d(vectors)
        method = "pca"
    else:
        from sklearn.manifold import TSNE  # noqa: PLC0415

        coords = TSNE(n_components=2, perplexity=min(30.0, (vectors.shape[0] - 1) / 3),
                      init="pca", random_state=seed).fit_transform(vectors)
        explained = None
    return Embedding(layer, method, coords, preferred.numpy(), selectivity.numpy(),
                     explained)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Membrane:
    """Membrane potential [T, K] and spikes [T, K] of K chosen neurons of one layer for one
    sample, with the threshold theta (same units: input current W x)."""

    layer: int
    neurons: tuple[int, ...]
    potential: np.ndarray
    spikes: np.ndarray
    threshold: float


@torch.no_grad()
def membrane(model: nn.Module, sample: torch.Tensor, layer: int,
             neurons: tuple[int, ...] | None = None, count: int = 4) -> Membrane:
    """Membrane traces of `neurons` of `layer` (1-based) for one input train [T, D];
    default: `count` neurons spread over the top three quarters of this input's activity
    ranking (the busiest first), so both firing and sub-threshold traces show."""
    if not isinstance(model, SpikingMLP):
        raise ConfigError("membrane traces need a spiking model; this checkpoint is an ANN")
    lif = model.lifs[layer - 1] if 1 <= layer <= len(model.lifs) else None
    if not isinstance(lif, LIF):
        spiking = [i + 1 for i, m in enumerate(model.lifs) if isinstance(m, LIF)]
        raise ConfigError(f"layer {layer} has no spiking neurons; choose one of {spiking}")
    run = trace(model, sample[:, None])
    mem, spk = run.membrane[layer - 1][:, 0], run.spikes[layer - 1][:, 0]
    if neurons is None:  # spread over the activity ranking: busiest, middling, quiet
        order = torch.sort(spk.sum(0), descending=True, stable=True).indices
        ranks = torch.linspace(0, 0.75 * (len(order) - 1), min(count, len(order))).round().long()
        neurons = tuple(int(order[r]) for r in ranks.unique())
    bad = [i for i in neurons if not 0 <= i < mem.shape[1]]
    if bad:
        raise ConfigError(f"neuron(s) {bad} outside layer {layer} (0..{mem.shape[1] - 1})")
    idx = list(neurons)
    return Membrane(layer, tuple(neurons), mem[:, idx].cpu().numpy(), spk[:, idx].cpu().numpy(),
                    float(lif.parameters_now().threshold))
