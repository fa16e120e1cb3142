"""ANN-to-SNN conversion: a ReLU MLP's weights moved onto IF (or LIF) neurons.

Data-based normalisation (Diehl et al. 2015; Rueckauer et al. 2017): lambda_l is the maximum
(or the p-th percentile) of layer l's ReLU activations on training data, lambda_0 = 1 (inputs
are in [0, 1]). With threshold theta, layer l of the SNN gets

    W'_l = theta * W_l * lambda_{l-1} / lambda_l,      b'_l = theta * b_l / lambda_l,

so an IF neuron with subtractive reset fires at rate ~ clip(a_l / lambda_l, 0, 1) (spikes per
step), and every layer keeps the single threshold theta of `ModelConfig`: the result is an
ordinary `SpikingMLP` checkpoint. The bias is injected as a constant current every step.

The output layer is scaled by its own lambda (maximum positive logit) for the count readout
(spiking outputs); for the membrane readout any positive scale keeps the argmax, and lambda_L
is still applied so the currents stay in the range of the hidden layers.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spikeloom.data.registry import Dataset
from spikeloom.errors import CheckpointError, ConfigError
from spikeloom.measure.accuracy import evaluate
from spikeloom.snn.checkpoint import Checkpoint, load_checkpoint
from spikeloom.snn.models import MLP, build_model
from spikeloom.spec import ModelConfig, Spec, TrainConfig

NORMS = ("max", "percentile")
CONVERT_ENCODINGS = ("rate", "direct")
_LAYER_KEY = re.compile(r"fcs\.(\d+)\.(weight|bias)")


@dataclass(frozen=True)
class ConvertConfig(Spec):
    """norm: 'max' or 'percentile' of the activations; percentile in (0, 100];
    norm_samples: training samples the statistics are taken on (None = all);
    curve: timesteps at which the accuracy-vs-T curve is measured."""

    norm: str = "percentile"
    percentile: float = 99.9
    norm_samples: int | None = 10000
    curve: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128)

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise ConfigError(f"unknown normalisation {self.norm!r}; choose one of {', '.join(NORMS)}")
        if not 0.0 < self.percentile <= 100.0:
            raise ConfigError(f"--percentile {self.percentile} must be in (0, 100]")
        if self.norm_samples is not None and self.norm_samples < 1:
            raise ConfigError(f"--norm-samples {self.norm_samples} must be >= 1")
        object.__setattr__(self, "curve", tuple(int(t) for t in self.curve))
        if not self.curve or any(t < 1 for t in self.curve):
            raise ConfigError(f"--curve {self.curve} needs positive timesteps, e.g. 1,2,4,8,16")


@dataclass(frozen=True)
class ConvertResult:
    checkpoint: Checkpoint
    ann_accuracy: float
    test_accuracy: float
    scales: tuple[float, ...]
    curve: tuple[tuple[int, float], ...]
    convert_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


def check_convertible(ckpt: Checkpoint) -> None:
    """Raise a one-line `CheckpointError` unless `ckpt` is a Linear+ReLU MLP we can convert."""
    cfg = ckpt.model_config
    if cfg.arch != "ann":
        raise CheckpointError(f"--ann must be an ANN checkpoint, this one is an {cfg.arch.upper()} "
                              f"({cfg.name}); train one with 'spikeloom train --arch ann'")
    for key, value in ckpt.state_dict.items():
        m = _LAYER_KEY.fullmatch(key)
        if m is None:
            raise CheckpointError(f"--ann layer {key!r} cannot be converted: only Linear layers "
                                  "followed by ReLU are supported; give a plain spikeloom MLP")
        if int(m.group(1)) >= len(cfg.topology) - 1 or value.dim() != (2 if m.group(2) == "weight" else 1):
            raise CheckpointError(f"--ann layer {key!r} (shape {tuple(value.shape)}) does not fit "
                                  f"topology {'-'.join(map(str, cfg.topology))}; re-train the ANN")


@torch.no_grad()
def activations(ann: MLP, x: torch.Tensor) -> list[torch.Tensor]:
    """Every layer's output on x [N, D]: ReLU outputs of hidden layers, logits of the last."""
    out, h = [], x
    for i, fc in enumerate(ann.fcs):
        h = fc(h)
        if i < len(ann.fcs) - 1:
            h = torch.relu(h)
        out.append(h)
    return out


def layer_scale(acts: torch.Tensor, norm: str, percentile: float) -> float:
    """lambda of one layer: max or p-th percentile of its positive part over all neurons and
    samples (numpy's linear-interpolation percentile). A silent layer gets 1."""
    values = acts.clamp(min=0).double().flatten().cpu().numpy()
    lam = float(values.max()) if norm == "max" else float(np.percentile(values, percentile))
    return lam if lam > 0 else 1.0


def layer_scales(ann: MLP, x: torch.Tensor, cc: ConvertConfig) -> tuple[float, ...]:
    """(lambda_1, ..., lambda_L) on training inputs x [N, D]."""
    return tuple(layer_scale(a, cc.norm, cc.percentile) for a in activations(ann, x))


def converted_state(ann_state: dict[str, torch.Tensor], scales: tuple[float, ...],
                    threshold: float) -> dict[str, torch.Tensor]:
    """`fcs.*` weights and biases of the SNN: W'_l = theta W_l lambda_{l-1} / lambda_l."""
    prev = (1.0, *scales[:-1])
    out: dict[str, torch.Tensor] = {}
    for key, value in ann_state.items():
        m = _LAYER_KEY.fullmatch(key)
        if m is None:
            continue
        layer = int(m.group(1))
        factor = threshold * (prev[layer] if m.group(2) == "weight" else 1.0) / scales[layer]
        out[key] = (value.double() * factor).float()
    return out


def snn_config(ann_cfg: ModelConfig, base: ModelConfig) -> ModelConfig:
    """The SNN's config: the ANN's topology and bias, `base`'s neuron, encoding and readout."""
    if base.encoding not in CONVERT_ENCODINGS:
        raise ConfigError(f"conversion needs --encoding rate or direct (got {base.encoding!r}): "
                          "the converted rates approximate ReLU activations")
    return base.replace(arch="snn", topology=ann_cfg.topology, bias=ann_cfg.bias,
                        learn_beta=False, learn_threshold=False)


def build_snn(ann_ckpt: Checkpoint, base: ModelConfig, scales: tuple[float, ...]
              ) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
    """(SNN config, SNN state dict) for an ANN checkpoint and given lambdas."""
    cfg = snn_config(ann_ckpt.model_config, base)
    model = build_model(cfg)
    state = model.state_dict()
    state.update(converted_state(ann_ckpt.state_dict, scales, cfg.threshold))
    model.load_state_dict(state)
    return cfg, {k: v.detach().clone() for k, v in model.state_dict().items()}


def load_ann(path: str | Path) -> Checkpoint:
    p = Path(path)
    ckpt = load_checkpoint(p / "model.pt" if p.is_dir() else p)
    check_convertible(ckpt)
    return ckpt


def accuracy_curve(cfg: ModelConfig, state: dict[str, torch.Tensor], data: Dataset,
                   timesteps: tuple[int, ...], seed: int, device: torch.device) -> list[tuple[int, float]]:
    """Test accuracy of the converted SNN at each T (same weights, the pipeline's evaluation)."""
    rows = []
    for t in timesteps:
        cfg_t = cfg.replace(timesteps=t)
        model = build_model(cfg_t)
        model.load_state_dict(state)
        rows.append((t, evaluate(model.to(device).eval(), cfg_t, data.x_test, data.y_test, seed=seed)))
    return rows


def convert(ann_ckpt: Checkpoint, base: ModelConfig, tcfg: TrainConfig, cc: ConvertConfig,
            data: Dataset, device: torch.device) -> ConvertResult:
    """Convert `ann_ckpt` with lambdas from `data`'s training split; measure on its test split."""
    check_convertible(ann_ckpt)
    ann = ann_ckpt.build(device)
    x_norm = data.x_train if cc.norm_samples is None else data.x_train[: cc.norm_samples]
    t0 = time.perf_counter()
    scales = layer_scales(ann, x_norm.to(device), cc)
    cfg, state = build_snn(ann_ckpt, base, scales)
    seconds = time.perf_counter() - t0
    ann_acc = evaluate(ann, ann_ckpt.model_config, data.x_test, data.y_test, seed=tcfg.seed)
    model = build_model(cfg)
    model.load_state_dict(state)
    acc = evaluate(model.to(device).eval(), cfg, data.x_test, data.y_test, seed=tcfg.seed)
    curve = accuracy_curve(cfg, state, data, cc.curve, tcfg.seed, device)
    ckpt = Checkpoint(cfg, tcfg, state, epoch=tcfg.epochs,
                      metrics={"test_accuracy": acc, "ann_test_accuracy": ann_acc,
                               "convert_seconds": seconds},
                      extra={"method": "convert", "convert_config": cc.to_dict(),
                             "scales": list(scales), "ann_config": ann_ckpt.model_config.to_dict()})
    return ConvertResult(ckpt, ann_acc, acc, scales, tuple(curve), seconds)


def plot_curve(path: str | Path, curve: tuple[tuple[int, float], ...], ann_accuracy: float,
               title: str) -> Path:
    """Accuracy against T (log2 axis) with the ANN's accuracy as a dashed line; PNG."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    from spikeloom.io import atomic_write  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(5, 3.2))
    ts = [t for t, _ in curve]
    ax.plot(ts, [a for _, a in curve], "o-", label="converted SNN")
    ax.axhline(ann_accuracy, ls="--", color="gray", label="ANN")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("timesteps T")
    ax.set_ylabel("test accuracy")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="lower right")
    fig.tight_layout()
    try:
        return atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=120))
    finally:
        plt.close(fig)
