"""Frozen dataclasses for configurations, with `to_dict` / `from_dict` for JSON and checkpoints."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, TypeVar

from spikeloom.errors import ConfigError

T = TypeVar("T", bound="Spec")

ARCHS = ("snn", "ann")
RESETS = ("subtract", "zero")
SURROGATES = ("fast_sigmoid", "arctan", "triangle")
READOUTS = ("count", "membrane")
ENCODINGS = ("rate", "latency", "direct")
LR_SCHEDULES = ("constant", "cosine")
WEIGHT_INITS = ("default", "rate")
TRAIN_LOSSES = ("readout", "membrane")
MITIGATIONS = ("none", "clamp", "msb-parity", "msb-ecc")  # reliability levers (`faults.mitigation`)


class Spec:
    """Mixin: plain-dict round trip for frozen dataclasses (tuples become lists in JSON)."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = set(data) - names
        if unknown:
            raise ConfigError(f"unknown {cls.__name__} field(s) {sorted(unknown)}; known: {sorted(names)}")
        return cls(**data)

    def replace(self: T, **changes: Any) -> T:
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value


def parse_topology(text: str | tuple[int, ...] | list[int]) -> tuple[int, ...]:
    """'784-128-64-10' -> (784, 128, 64, 10). At least input and output, all sizes >= 1."""
    if isinstance(text, (tuple, list)):
        parts = [str(v) for v in text]
    else:
        parts = str(text).strip().split("-")
    try:
        sizes = tuple(int(p) for p in parts)
    except ValueError:
        raise ConfigError(
            f"malformed topology {text!r}: write layer sizes joined by '-', e.g. 64-32-10"
        ) from None
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise ConfigError(
            f"malformed topology {text!r}: need at least an input and an output size, "
            "all positive, e.g. 64-32-10"
        )
    return sizes


def format_topology(sizes: tuple[int, ...]) -> str:
    return "-".join(str(s) for s in sizes)


def _choice(name: str, value: str, options: tuple[str, ...]) -> None:
    if value not in options:
        raise ConfigError(f"unknown {name} {value!r}; choose one of {', '.join(options)}")


@dataclass(frozen=True)
class ModelConfig(Spec):
    """An ANN or SNN multilayer perceptron.

    topology: layer sizes, input first. SNN fields are ignored for the ANN.
    threshold: firing threshold theta (same units as the input current W x).
    beta: membrane decay per timestep (1.0 = IF neuron).
    slope: steepness of the surrogate gradient.
    """

    arch: str = "snn"
    topology: tuple[int, ...] = (64, 32, 10)
    timesteps: int = 10
    threshold: float = 1.0
    beta: float = 0.95
    reset: str = "subtract"
    surrogate: str = "fast_sigmoid"
    slope: float = 25.0
    learn_beta: bool = False
    learn_threshold: bool = False
    bias: bool = False
    readout: str = "count"
    encoding: str = "rate"

    def __post_init__(self) -> None:
        object.__setattr__(self, "topology", parse_topology(self.topology))
        _choice("arch", self.arch, ARCHS)
        _choice("reset mode", self.reset, RESETS)
        _choice("surrogate", self.surrogate, SURROGATES)
        _choice("readout", self.readout, READOUTS)
        _choice("encoding", self.encoding, ENCODINGS)
        if int(self.timesteps) != self.timesteps or self.timesteps < 1:
            raise ConfigError(f"timesteps must be a positive integer, got {self.timesteps}")
        if not self.threshold > 0:
            raise ConfigError(f"threshold must be > 0, got {self.threshold}")
        if not 0.0 <= self.beta <= 1.0:
            raise ConfigError(f"beta must be in [0, 1] (1 = IF neuron), got {self.beta}")
        if not self.slope > 0:
            raise ConfigError(f"surrogate slope must be > 0, got {self.slope}")

    @property
    def input_size(self) -> int:
        return self.topology[0]

    @property
    def num_classes(self) -> int:
        return self.topology[-1]

    @property
    def name(self) -> str:
        top = format_topology(self.topology)
        if self.arch == "ann":
            return f"ANN {top}"
        return f"SNN {top} T={self.timesteps} theta={self.threshold:g}"


@dataclass(frozen=True)
class TrainConfig(Spec):
    """Optimisation settings. lr: Adam learning rate; epochs over the training split.

    lr_schedule: 'constant' (default) or 'cosine' (epoch e of E trains with
    lr * (1 + cos(pi e / E)) / 2, a function of the epoch alone, so resuming is exact).
    fault_aware_ber > 0: fault-aware training (`train.fault_aware`): every step runs through
    weights quantized to `fault_aware_bits` and hit by bit flips at that rate.
    init_sha256: sha256 of the checkpoint file whose synaptic weights training starts from
    (fine-tuning; `train.fit`'s `init_state`); None: PyTorch's default initialisation.
    weight_init: 'default' (PyTorch's) or 'rate' (each SNN layer scaled to fire at a fixed
    rate on a batch of training data first, `train.init`; for deep SNNs).
    loss: 'readout' (cross-entropy on the model's logits: spike counts for count readout) or
    'membrane' (SNNs with count readout: cross-entropy on the output layer's mean membrane
    potential, as snnTorch's tutorials train; the model and its spike-count readout at
    inference are unchanged, only the training signal is. A silent output layer still
    gets gradient, which deep SNNs need).
    """

    dataset: str = "digits"
    epochs: int = 10
    batch_size: int = 32
    lr: float = 5e-3
    seed: int = 0
    train_subset: int | None = None
    lr_schedule: str = "constant"
    fault_aware_ber: float = 0.0
    fault_aware_bits: int = 8
    init_sha256: str | None = None
    weight_init: str = "default"
    loss: str = "readout"

    def __post_init__(self) -> None:
        if not 0.0 <= self.fault_aware_ber < 0.5:
            raise ConfigError(f"fault-aware bit error rate must be in [0, 0.5), got {self.fault_aware_ber}")
        if not 2 <= self.fault_aware_bits <= 16:
            raise ConfigError(f"fault-aware bit width must be in 2..16, got {self.fault_aware_bits}")
        if self.epochs < 0:
            raise ConfigError(f"epochs must be >= 0, got {self.epochs}")
        if self.batch_size < 1:
            raise ConfigError(f"batch size must be >= 1, got {self.batch_size}")
        if not self.lr > 0:
            raise ConfigError(f"learning rate must be > 0, got {self.lr}")
        _choice("learning-rate schedule", self.lr_schedule, LR_SCHEDULES)
        _choice("weight initialisation", self.weight_init, WEIGHT_INITS)
        _choice("training loss", self.loss, TRAIN_LOSSES)

    def to_dict(self) -> dict[str, Any]:
        """Fault-aware and fine-tuning fields only when used: configs (and the caches keyed on
        them) from before those features stay the same."""
        d = super().to_dict()
        if self.fault_aware_ber == 0.0:
            d.pop("fault_aware_ber"), d.pop("fault_aware_bits")
        if self.init_sha256 is None:
            d.pop("init_sha256")
        if self.weight_init == "default":
            d.pop("weight_init")
        if self.loss == "readout":
            d.pop("loss")
        return d
