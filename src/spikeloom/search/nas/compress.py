"""Crossbar-friendly compression of a trained MLP: structured pruning, masked fine-tuning and
mixed-precision (per-layer bit width) quantization.

Structured pruning removes whole input columns of a weight matrix [out, in] (the inputs with
the smallest L2 norm): every neuron of a layer keeps the same inputs, so neurons share axons
on a crossbar. A removed column of layer l+1 makes neuron j of layer l useless, so its row in
layer l is removed too. `max_inputs` caps the kept columns per layer (a neuron must fit the
largest crossbar of the library).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import torch
from torch import nn

from spikeloom.data.encoders import make_generator
from spikeloom.data.protocol import model_inputs
from spikeloom.quant import QuantizedLinear, quantize_tensor
from spikeloom.spec import ModelConfig, TrainConfig


def kept_columns(w: torch.Tensor, alive_in: torch.Tensor, sparsity: float, max_inputs: int | None) -> torch.Tensor:
    """Bool [in]: the inputs of `w` [out, in] kept after removing `sparsity` of the alive ones
    (smallest column L2 norms first; ties to the lower index) and capping at `max_inputs`."""
    n_alive = int(alive_in.sum())
    keep = n_alive - int(math.floor(sparsity * n_alive + 1e-9))
    if max_inputs is not None:
        keep = min(keep, int(max_inputs))
    keep = max(1, keep)
    norms = w.detach().float().norm(dim=0).double()
    norms = torch.where(alive_in, norms, torch.full_like(norms, -1.0))
    order = sorted(range(len(norms)), key=lambda i: (-float(norms[i]), i))[:keep]
    out = torch.zeros(len(norms), dtype=torch.bool)
    out[order] = True
    return out & alive_in


def prune_masks(weights: Sequence[torch.Tensor], sparsity: Sequence[float],
                max_inputs: int | None = None) -> list[torch.Tensor]:
    """Bool masks [out, in] per layer for structured pruning (see module docstring)."""
    cols: list[torch.Tensor] = []
    alive = torch.ones(weights[0].shape[1], dtype=torch.bool)
    for w, s in zip(weights, sparsity):
        c = kept_columns(w, alive, s, max_inputs)
        cols.append(c)
        alive = torch.ones(w.shape[0], dtype=torch.bool)
    masks = []
    for layer, w in enumerate(weights):
        rows = cols[layer + 1] if layer + 1 < len(weights) else torch.ones(w.shape[0], dtype=torch.bool)
        masks.append(rows.unsqueeze(1) & cols[layer].unsqueeze(0))
    return masks


def apply_masks(model: nn.Module, masks: Sequence[torch.Tensor]) -> None:
    """Zero the pruned weights of `model.fcs` in place."""
    with torch.no_grad():
        for fc, m in zip(model.fcs, masks):
            fc.weight.mul_(m.to(fc.weight.device, fc.weight.dtype))


def finetune_masked(model: nn.Module, cfg: ModelConfig, tcfg: TrainConfig, x: torch.Tensor, y: torch.Tensor,
                    masks: Sequence[torch.Tensor], epochs: int) -> nn.Module:
    """Train `model` for `epochs` more epochs (Adam from lr / 2), keeping pruned weights at zero.

    With `tcfg.lr_schedule == 'cosine'` the rate anneals to zero over the fine-tune's batches
    (as the training ended at zero, a constant rate would undo its convergence); otherwise it
    stays at lr / 2. x [N, D], y [N]; seeded by `tcfg.seed`. Returns the model in eval mode."""
    apply_masks(model, masks)
    if epochs <= 0:
        return model.eval()
    device = next(model.parameters()).device
    torch.manual_seed(tcfg.seed + 7)
    opt = torch.optim.Adam(model.parameters(), lr=tcfg.lr / 2)
    shuffle, enc = make_generator(tcfg.seed + 11), make_generator(tcfg.seed + 13, device)
    loss_fn = nn.CrossEntropyLoss()
    steps = epochs * math.ceil(len(x) / tcfg.batch_size)
    step = 0
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=shuffle)
        for b in range(0, len(x), tcfg.batch_size):
            if tcfg.lr_schedule == "cosine":
                for group in opt.param_groups:
                    group["lr"] = tcfg.lr / 2 * (1 + math.cos(math.pi * step / steps)) / 2
            idx = order[b:b + tcfg.batch_size]
            loss = loss_fn(model(model_inputs(cfg, x[idx].to(device), enc)), y[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            apply_masks(model, masks)
            step += 1
    return model.eval()


def prunes_anything(masks: Sequence[torch.Tensor]) -> bool:
    """True when some weight is masked out (else there is nothing for a fine-tune to recover)."""
    return any(not bool(m.all()) for m in masks)


def quantize_mixed(model: nn.Module, bits: Sequence[int]) -> tuple[nn.Module, list[torch.Tensor]]:
    """A copy of `model` whose layer i computes with symmetric per-tensor int`bits[i]` weights,
    and the integer weights q_i [out, in] (int32). Pruned zeros stay exactly zero."""
    out = copy.deepcopy(model)
    qs = []
    for i, fc in enumerate(model.fcs):
        q, s = quantize_tensor(fc.weight.detach().cpu(), int(bits[i]))
        qs.append(q)
        out.fcs[i] = QuantizedLinear(q, s, int(bits[i]), False, fc.bias).to(fc.weight.device)
    return out.eval(), qs


def memory_bits(masks: Sequence[torch.Tensor], bits: Sequence[int]) -> int:
    """Weight memory: stored (non-pruned) weights x their bit width, summed over layers."""
    return int(sum(int(m.sum()) * int(b) for m, b in zip(masks, bits)))
