"""snnTorch as the peer the interop tests compare against (imported by test_interop_nir,
test_neurobench and test_byom; not a test module itself)."""

from __future__ import annotations

import snntorch as snn
import torch
from snntorch import utils as snn_utils


def leaky(n: int, beta: float, theta: float = 1.0, **kw) -> torch.nn.Module:
    """A zero-reset Leaky with per-neuron beta/threshold tensors: snnTorch 1.0 exports a scalar
    beta as a 0-d tau, which nir 1.0.8's type inference rejects."""
    return snn.Leaky(beta=torch.full((n,), beta), threshold=torch.full((n,), theta),
                     init_hidden=True, reset_mechanism="zero", **kw)


def snntorch_net(sizes=(20, 16, 12, 5), betas=(0.9, 0.8, 0.95), theta=0.5, seed=0):
    """Linear + Leaky layers (the last Leaky returns (spikes, membrane))."""
    torch.manual_seed(seed)
    mods: list[torch.nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        mods.append(torch.nn.Linear(a, b))
        mods.append(leaky(b, betas[i], theta, output=i == len(sizes) - 2))
    return torch.nn.Sequential(*mods)


@torch.no_grad()
def snntorch_spikes(net: torch.nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """Spikes [T, B, N] of every snnTorch Leaky layer, stepping the net over x [T, B, D]."""
    leakies = [m for m in net.modules() if isinstance(m, snn.Leaky)]
    seen: list[list[torch.Tensor]] = [[] for _ in leakies]
    hooks = [m.register_forward_hook(
        lambda _m, _a, out, i=i: seen[i].append((out[0] if isinstance(out, tuple) else out).clone()))
        for i, m in enumerate(leakies)]
    snn_utils.reset(net)
    for t in range(x.shape[0]):
        net(x[t])
    for h in hooks:
        h.remove()
    return [torch.stack(s) for s in seen]
