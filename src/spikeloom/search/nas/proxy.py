"""The training-free SAHD score of SNASNet (sparsity-aware Hamming distance), to pre-rank
architectures at initialisation.

For every LIF layer and timestep, with x the binary spike matrix of a mini-batch [B, N]
and r_i the firing rate of sample i (mean of row i):

    H       = x (1 - x)^T + (1 - x) x^T                 (Hamming distances)  [B, B]
    norm_ij = r_i (1 - r_j) + (1 - r_i) r_j
    K      += N - (0.5 / (norm + 1e-3)) * H

score = log |det(K / (layers x T))|, averaged over mini-batches (two by default).
(SNASNet's reference code also multiplies `norm` by N; we follow the definition above.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from spikeloom.data.encoders import make_generator
from spikeloom.data.protocol import model_inputs
from spikeloom.snn.activity import record_spikes
from spikeloom.snn.models import build_model
from spikeloom.spec import ModelConfig


def sahd_kernel(layers: Sequence[torch.Tensor]) -> np.ndarray:
    """K / (layers x T) [B, B] (float64) from spikes of each LIF layer [T, B, N]."""
    if not layers:
        raise ValueError("SAHD needs at least one LIF layer's spikes")
    T, B = layers[0].shape[:2]
    K = torch.zeros(B, B, dtype=torch.float64)
    count = 0
    for spikes in layers:
        for t in range(spikes.shape[0]):
            x = (spikes[t] > 0).double()
            n = x.shape[1]
            r = x.mean(1, keepdim=True)
            hamming = x @ (1 - x).T + (1 - x) @ x.T
            norm = r @ (1 - r).T + (1 - r) @ r.T
            K += n - (0.5 / (norm + 1e-3)) * hamming
            count += 1
    return (K / count).numpy()


def logabsdet(k: np.ndarray) -> float:
    """log|det(k)|; -inf for a singular matrix."""
    _sign, value = np.linalg.slogdet(k)
    return float(value)


def sahd_score(cfg: ModelConfig, x: torch.Tensor, batch_size: int = 64, batches: int = 2,
               seed: int = 0) -> float:
    """SAHD of `cfg` at initialisation (weights seeded by `seed`) on mini-batches of `x` [N, D].

    Mini-batch k is rows [k B, (k+1) B) of a seeded permutation of x."""
    torch.manual_seed(seed)
    model = build_model(cfg).eval()
    perm = torch.randperm(len(x), generator=make_generator(seed))
    scores = []
    for k in range(batches):
        rows = perm[k * batch_size:(k + 1) * batch_size]
        if len(rows) < 2:
            break
        inputs = model_inputs(cfg, x[rows], make_generator(seed + 100 + k))
        spikes = record_spikes(model, inputs)[1:]
        scores.append(logabsdet(sahd_kernel(spikes)))
    return float(np.mean(scores)) if scores else float("nan")
