"""Forward passes over the evaluation protocol's chunks (`spikeloom.data.protocol`): the one
implementation of predictions and spike counts. `spikeloom.measure` is their public face."""

from __future__ import annotations

import torch
from torch import nn

from spikeloom.data.protocol import eval_batches
from spikeloom.errors import ConfigError
from spikeloom.snn.activity import recording
from spikeloom.spec import ModelConfig


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter or buffer (CPU for an empty model)."""
    for t in (*model.parameters(), *model.buffers()):
        return t.device
    return torch.device("cpu")


@torch.no_grad()
def predict(model: nn.Module, cfg: ModelConfig, x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Predicted classes [N] (int64, on CPU) of `model` on x [N, D], encoding seed `seed`."""
    model.eval()
    device = model_device(model)
    out = [model(inputs).argmax(1).cpu() for _, inputs in eval_batches(cfg, x, seed, device)]
    return torch.cat(out) if out else torch.empty(0, dtype=torch.long)


@torch.no_grad()
def spike_counts(model: nn.Module, cfg: ModelConfig, x: torch.Tensor, seed: int = 0
                 ) -> list[torch.Tensor]:
    """Total spikes per neuron over `x`: [input [D], layer 1 [N1], ..., layer L] (float64).

    Divide by len(x) for per-sample means. Only for SNNs; with membrane readout the output
    layer does not spike and is left out.
    """
    device = model_device(model)
    totals: list[torch.Tensor] | None = None
    model.eval()
    for _, inputs in eval_batches(cfg, x, seed, device):
        with recording(model) as rec:
            model(inputs)
        trains = [rec.inputs[0], *[layer[0] for layer in rec.layers]]
        sums = [t.sum(dim=(0, 1)).double().cpu() for t in trains]
        totals = sums if totals is None else [a + b for a, b in zip(totals, sums)]
    return totals or []


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """'cpu', 'cuda' (or 'cuda:N') or 'auto' (CUDA when present) -> a torch device;
    `ConfigError` when CUDA is asked for and absent."""
    text = str(name)
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if text.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("--device cuda asked for, but PyTorch sees no CUDA GPU on this machine; "
                          "use --device cpu (or auto)")
    try:
        return torch.device(text)
    except RuntimeError as exc:
        raise ConfigError(f"unknown device {text!r}; choose cpu, cuda or auto") from exc
