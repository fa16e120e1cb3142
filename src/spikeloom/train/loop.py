"""Training with Adam: seeded, resumable from atomic per-epoch checkpoints."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from spikeloom.data.encoders import make_generator
from spikeloom.data.protocol import model_inputs
from spikeloom.data.registry import Dataset
from spikeloom.errors import CheckpointError, DataError
from spikeloom.io import prepare_out_dir
from spikeloom.measure.accuracy import evaluate
from spikeloom.snn.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from spikeloom.snn.inference import resolve_device, spike_counts
from spikeloom.snn.models import SpikingMLP, build_model, synaptic_state
from spikeloom.spec import ModelConfig, TrainConfig
from spikeloom.train.fault_aware import faulty_weights
from spikeloom.train.init import calibrate_rates

CALIBRATION_SAMPLES = 256  # first training samples `--weight-init rate` measures rates on


@dataclass(frozen=True)
class TrainResult:
    checkpoint: Checkpoint
    test_accuracy: float
    train_seconds: float
    resumed_from_epoch: int

    def summary(self) -> dict:
        """The figures `spikeloom train` writes to summary.json."""
        cfg, tcfg = self.checkpoint.model_config, self.checkpoint.train_config
        out = {
            "test_accuracy": self.test_accuracy,
            "arch": cfg.arch,
            "topology": "-".join(map(str, cfg.topology)),
            "timesteps": cfg.timesteps,
            "threshold": cfg.threshold,
            "beta": cfg.beta,
            "seed": tcfg.seed,
            "dataset": tcfg.dataset,
            "epochs": tcfg.epochs,
            "train_seconds": self.train_seconds,
            "resumed_from_epoch": self.resumed_from_epoch,
            "model_config": cfg.to_dict(),
            "train_config": tcfg.to_dict(),
        }
        for key in ("spikes_per_sample", "spikes_per_layer", "train_accuracy"):
            if key in self.checkpoint.metrics:
                out[key] = self.checkpoint.metrics[key]
        return out


def learning_rate(tcfg: TrainConfig, epoch: int) -> float:
    """Adam's learning rate during `epoch` (0-based) under `tcfg.lr_schedule`."""
    if tcfg.lr_schedule == "cosine" and tcfg.epochs > 0:
        return tcfg.lr * 0.5 * (1.0 + math.cos(math.pi * epoch / tcfg.epochs))
    return tcfg.lr


def training_logits(model: nn.Module, tcfg: TrainConfig, x: torch.Tensor) -> torch.Tensor:
    """The logits the loss reads: the model's own, or for `tcfg.loss == 'membrane'` an SNN's
    output-layer mean membrane potential (`SpikingMLP.membrane_logits`)."""
    if tcfg.loss == "membrane" and isinstance(model, SpikingMLP):
        return model.membrane_logits(x)
    return model(x)


def check_fits(cfg: ModelConfig, data: Dataset) -> None:
    """Raise a one-line `DataError` when the topology does not match the dataset."""
    if cfg.input_size != data.input_size:
        raise DataError(
            f"topology input size {cfg.input_size} does not match dataset {data.name!r} "
            f"({data.input_size} features); start the topology with {data.input_size}")
    if cfg.num_classes < data.num_classes:
        raise DataError(
            f"topology has {cfg.num_classes} outputs but {data.name!r} has {data.num_classes} "
            f"classes; end the topology with {data.num_classes}")


def _try_resume(path: Path | None, cfg: ModelConfig, tcfg: TrainConfig) -> Checkpoint | None:
    if path is None or not path.exists():
        return None
    try:
        old = load_checkpoint(path)
    except CheckpointError:
        return None
    if old.model_config != cfg or old.train_config != tcfg or not old.resume_state:
        return None
    return old


def load_synapses(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Copy the synaptic weights of `state` into `model`; `CheckpointError` when they do not fit."""
    weights = synaptic_state(state)
    own = synaptic_state(model.state_dict())
    if {k: tuple(v.shape) for k, v in weights.items()} != {k: tuple(v.shape) for k, v in own.items()}:
        raise CheckpointError("the starting model's weights do not fit this topology (or one has "
                              "biases and the other not); start from a model of the same topology")
    model.load_state_dict(weights, strict=False)


def fit(cfg: ModelConfig, tcfg: TrainConfig, data: Dataset, checkpoint_path: str | Path | None = None,
        progress: bool = False, device: torch.device | None = None,
        log: Callable[[str], None] | None = None,
        init_state: dict[str, torch.Tensor] | None = None) -> TrainResult:
    """Train `cfg` on `data`; save after every epoch to `checkpoint_path` when given.

    A checkpoint already there with the same configs is resumed (or reused when complete).
    init_state: a state dict whose synaptic weights (`fcs.*`) training starts from, given
    exactly when `tcfg.init_sha256` names it; neuron parameters stay `cfg`'s.
    """
    if (init_state is None) != (tcfg.init_sha256 is None):
        raise ValueError("fit: give init_state exactly when tcfg.init_sha256 names it")
    check_fits(cfg, data)
    device = device or resolve_device("auto")
    path = Path(checkpoint_path) if checkpoint_path else None
    if path is not None:
        prepare_out_dir(path.parent)
    torch.manual_seed(tcfg.seed)
    model: nn.Module = build_model(cfg).to(device)
    if init_state is not None:
        load_synapses(model, init_state)
    elif tcfg.weight_init == "rate" and cfg.arch == "snn":
        calibration = data.x_train[:CALIBRATION_SAMPLES].to(device)
        calibrate_rates(model, model_inputs(cfg, calibration, make_generator(tcfg.seed + 4, device)))
    optimizer = torch.optim.Adam(model.parameters(), lr=tcfg.lr)
    shuffle_gen = make_generator(tcfg.seed + 1)
    encode_gen = make_generator(tcfg.seed + 2, device)
    fault_gen = make_generator(tcfg.seed + 3)  # fault-aware training's flips (CPU)
    start_epoch, seconds = 0, 0.0

    old = _try_resume(path, cfg, tcfg)
    if old is not None and old.complete and "test_accuracy" in old.metrics:
        # Finished and measured before: reuse it as it is (nothing retrained or rewritten).
        return TrainResult(old, float(old.metrics["test_accuracy"]),
                           float(old.metrics.get("train_seconds", 0.0)), old.epoch)
    if old is not None:
        model.load_state_dict(old.state_dict)
        optimizer.load_state_dict(old.resume_state["optimizer"])
        shuffle_gen.set_state(old.resume_state["shuffle_rng"])
        encode_gen.set_state(old.resume_state["encode_rng"])
        if "fault_rng" in old.resume_state:
            fault_gen.set_state(old.resume_state["fault_rng"])
        start_epoch, seconds = old.epoch, float(old.metrics.get("train_seconds", 0.0))
        if log and start_epoch < tcfg.epochs:
            log(f"resuming from epoch {start_epoch}/{tcfg.epochs} in {path}")

    x_train, y_train = data.x_train, data.y_train
    if tcfg.train_subset:
        x_train, y_train = x_train[: tcfg.train_subset], y_train[: tcfg.train_subset]
    n = len(x_train)
    batches = (n + tcfg.batch_size - 1) // tcfg.batch_size
    from tqdm.auto import tqdm  # noqa: PLC0415

    bar = tqdm(total=(tcfg.epochs - start_epoch) * batches, disable=not progress,
               desc=f"train {cfg.name}", unit="batch", leave=False)
    loss_fn = nn.CrossEntropyLoss()
    ckpt = old
    for epoch in range(start_epoch, tcfg.epochs):
        t0 = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(tcfg, epoch)
        model.train()
        order = torch.randperm(n, generator=shuffle_gen)
        total_loss = torch.zeros((), dtype=torch.float64, device=device)  # no sync per step
        for b in range(batches):
            idx = order[b * tcfg.batch_size:(b + 1) * tcfg.batch_size]
            xb, yb = x_train[idx].to(device), y_train[idx].to(device)
            optimizer.zero_grad(set_to_none=True)
            with faulty_weights(model, tcfg.fault_aware_ber, tcfg.fault_aware_bits, fault_gen):
                loss = loss_fn(training_logits(model, tcfg, model_inputs(cfg, xb, encode_gen)), yb)
                loss.backward()
            optimizer.step()
            total_loss += loss.detach().double() * len(idx)
            bar.update(1)
        mean_loss = float(total_loss) / n
        seconds += time.perf_counter() - t0
        bar.set_postfix(epoch=epoch + 1, loss=f"{mean_loss:.3f}")
        ckpt = Checkpoint(
            cfg, tcfg, {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
            epoch=epoch + 1,
            metrics={"train_seconds": seconds, "train_loss": mean_loss},
            resume_state={"optimizer": optimizer.state_dict(),
                          "shuffle_rng": shuffle_gen.get_state(),
                          "encode_rng": encode_gen.get_state(),
                          "fault_rng": fault_gen.get_state()},
        )
        if path is not None:
            save_checkpoint(path, ckpt)
    bar.close()
    if ckpt is None:  # zero epochs: the initial weights
        ckpt = Checkpoint(cfg, tcfg, {k: v.detach().cpu().clone() for k, v in model.state_dict().items()})

    model.eval()
    accuracy = evaluate(model, cfg, data.x_test, data.y_test, seed=tcfg.seed)
    ckpt.metrics.update(test_accuracy=accuracy, train_seconds=seconds)
    if cfg.arch == "snn":
        counts = spike_counts(model, cfg, data.x_test, seed=tcfg.seed)
        per_layer = [float(c.sum()) / len(data.x_test) for c in counts]
        ckpt.metrics.update(spikes_per_layer=per_layer, spikes_per_sample=sum(per_layer[1:]))
    if path is not None:
        save_checkpoint(path, ckpt)
    return TrainResult(ckpt, accuracy, seconds, start_epoch)
