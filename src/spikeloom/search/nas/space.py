"""The architecture search space: a small validated YAML/JSON file, or the default.

Every dimension is a list of choices (categorical), so the same space serves grid, random,
evolutionary and Bayesian strategies. A file looks like

    depth: [1, 2, 3]                 # hidden layers (1..5)
    widths: [16, 32, 64]             # one list for every hidden layer, or one list per layer
    timesteps: [5, 10]
    threshold: [0.5, 1.0]
    beta: [0.9, 0.95]
    reset: [subtract, zero]
    surrogate: [fast_sigmoid]
    slope: [25]
    encoding: [rate]
    bits: [4, 8]                     # weight bits, chosen per weight layer (mixed precision)
    sparsity: [0.0, 0.5]             # structured pruning, chosen per weight layer
    library: ["homogeneous:64x64"]   # crossbar library (a search dimension when > 1)

Missing keys take the default; unknown keys, empty lists and out-of-range values are
one-line `ConfigError`s.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spikeloom.errors import ConfigError
from spikeloom.io import read_json_or_yaml
from spikeloom.spec import ENCODINGS, RESETS, SURROGATES, ModelConfig, Spec, format_topology

MAX_DEPTH = 5
MAX_GRID = 200_000  # distinct architectures a grid search may enumerate


@dataclass(frozen=True)
class NasSpace(Spec):
    """Choices per dimension. widths[i]: choices of hidden layer i (len(widths) >= max depth)."""

    depth: tuple[int, ...] = (1, 2, 3)
    widths: tuple[tuple[int, ...], ...] = ((16, 32, 64, 128),) * 3
    timesteps: tuple[int, ...] = (5, 10, 20)
    threshold: tuple[float, ...] = (0.5, 1.0, 1.5)
    beta: tuple[float, ...] = (0.8, 0.9, 0.95)
    reset: tuple[str, ...] = ("subtract", "zero")
    surrogate: tuple[str, ...] = ("fast_sigmoid",)
    slope: tuple[float, ...] = (25.0,)
    encoding: tuple[str, ...] = ("rate",)
    bits: tuple[int, ...] = (4, 6, 8)
    sparsity: tuple[float, ...] = (0.0, 0.25, 0.5)
    library: tuple[str, ...] = ("homogeneous:64x64",)

    @property
    def max_depth(self) -> int:
        return max(self.depth)

    @property
    def neuron_dims(self) -> dict[str, tuple[Any, ...]]:
        """The neuron-level and hardware dimensions shared by every layer, in sampling order."""
        return {k: getattr(self, k) for k in ("timesteps", "threshold", "beta", "reset", "surrogate",
                                              "slope", "encoding", "library")}

    def grid_size(self) -> int:
        """Number of distinct architectures in the space."""
        shared = math.prod(len(v) for v in self.neuron_dims.values())
        per_depth = [math.prod(len(self.widths[i]) for i in range(d))
                     * (len(self.bits) * len(self.sparsity)) ** (d + 1) for d in self.depth]
        return shared * sum(per_depth)

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["widths"] = [list(w) for w in self.widths]
        return d


def _choices(name: str, value: Any, kind: type, low: float | None = None, high: float | None = None,
             options: tuple[str, ...] | None = None) -> tuple[Any, ...]:
    if not isinstance(value, (list, tuple)):
        value = [value]
    if not value:
        raise ConfigError(f"search space {name!r} is an empty list; give at least one choice")
    out = []
    for v in value:
        if isinstance(v, bool) or (kind is int and not (isinstance(v, int) or (isinstance(v, float) and v.is_integer()))):
            raise ConfigError(f"search space {name!r}: {v!r} is not an integer")
        if kind is float and not isinstance(v, (int, float)):
            raise ConfigError(f"search space {name!r}: {v!r} is not a number")
        if kind is str and not isinstance(v, str):
            raise ConfigError(f"search space {name!r}: {v!r} is not a string")
        v = kind(v)
        if low is not None and v < low or high is not None and v > high:
            raise ConfigError(f"search space {name!r}: {v} is outside [{low}, {high}]")
        if options is not None and v not in options:
            raise ConfigError(f"search space {name!r}: unknown choice {v!r}; choose from {', '.join(options)}")
        if v not in out:
            out.append(v)
    return tuple(out)


def space_from_dict(data: dict[str, Any], source: str = "search space") -> NasSpace:
    """A validated `NasSpace` from plain data (missing keys keep the default)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must be a mapping of dimension -> list of choices")
    known = set(NasSpace.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{source}: unknown dimension(s) {unknown}; known: {sorted(known)}")
    base = NasSpace()
    d = {**base.to_dict(), **data}
    depth = _choices("depth", d["depth"], int, 1, MAX_DEPTH)
    widths_raw = d["widths"]
    if isinstance(widths_raw, (list, tuple)) and widths_raw and all(isinstance(w, (list, tuple)) for w in widths_raw):
        widths = tuple(_choices(f"widths[{i}]", w, int, 1, 1 << 16) for i, w in enumerate(widths_raw))
        if len(widths) < max(depth):
            raise ConfigError(f"{source}: widths lists {len(widths)} layers but depth goes up to "
                              f"{max(depth)}; give one list per hidden layer or a single list")
    else:
        one = _choices("widths", widths_raw, int, 1, 1 << 16)
        widths = (one,) * max(depth)
    from spikeloom.hw.crossbars import parse_library  # noqa: PLC0415  (torch-free, cheap)

    libraries = _choices("library", d["library"], str)
    for lib in libraries:
        parse_library(lib)
    return NasSpace(
        depth=depth, widths=widths,
        timesteps=_choices("timesteps", d["timesteps"], int, 1, 10_000),
        threshold=_choices("threshold", d["threshold"], float, 1e-6, 1e6),
        beta=_choices("beta", d["beta"], float, 0.0, 1.0),
        reset=_choices("reset", d["reset"], str, options=RESETS),
        surrogate=_choices("surrogate", d["surrogate"], str, options=SURROGATES),
        slope=_choices("slope", d["slope"], float, 1e-6, 1e6),
        encoding=_choices("encoding", d["encoding"], str, options=ENCODINGS),
        bits=_choices("bits", d["bits"], int, 2, 16),
        sparsity=_choices("sparsity", d["sparsity"], float, 0.0, 0.95),
        library=libraries,
    )


def load_space(path: str | Path | None) -> NasSpace:
    """The space declared in a YAML/JSON file, or the default when `path` is None."""
    if path is None:
        return NasSpace()
    p = Path(path)
    data = read_json_or_yaml(p, "search space file", "pass an existing, valid --space FILE")
    return space_from_dict(data if data is not None else {}, p.name)


@dataclass(frozen=True)
class Architecture(Spec):
    """One point of the space: hidden widths, neuron parameters, per-weight-layer bits and
    structured sparsity (len(hidden) + 1 entries each), and the crossbar library."""

    hidden: tuple[int, ...]
    timesteps: int
    threshold: float
    beta: float
    reset: str
    surrogate: str
    slope: float
    encoding: str
    bits: tuple[int, ...]
    sparsity: tuple[float, ...]
    library: str

    def __post_init__(self) -> None:
        for name in ("hidden", "bits", "sparsity"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if not len(self.bits) == len(self.sparsity) == len(self.hidden) + 1:
            raise ConfigError("an architecture needs one bit width and one sparsity per weight layer")

    @property
    def depth(self) -> int:
        return len(self.hidden)

    def model_config(self, input_size: int, num_classes: int) -> ModelConfig:
        return ModelConfig(arch="snn", topology=(input_size, *self.hidden, num_classes),
                           timesteps=self.timesteps, threshold=self.threshold, beta=self.beta,
                           reset=self.reset, surrogate=self.surrogate, slope=self.slope,
                           encoding=self.encoding)

    @property
    def key(self) -> str:
        """A short stable id (12 hex digits) of the architecture."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def label(self) -> str:
        bits = "/".join(map(str, self.bits))
        sp = "/".join(f"{s:g}" for s in self.sparsity)
        return (f"{format_topology(self.hidden)} T{self.timesteps} th{self.threshold:g} "
                f"b{self.beta:g} {self.reset} int{bits} sp{sp} {self.library}")


def sample_architecture(trial: Any, space: NasSpace) -> Architecture:
    """The architecture an Optuna trial asks for. Every layer parameter up to the maximum
    depth is always suggested (a fixed-dimensional space suits NSGA-II and GP); layers
    beyond the sampled depth are ignored."""
    depth = trial.suggest_categorical("depth", list(space.depth))
    widths = [trial.suggest_categorical(f"width_{i}", list(space.widths[i])) for i in range(space.max_depth)]
    bits = [trial.suggest_categorical(f"bits_{i}", list(space.bits)) for i in range(space.max_depth + 1)]
    sparsity = [trial.suggest_categorical(f"sparsity_{i}", list(space.sparsity))
                for i in range(space.max_depth + 1)]
    shared = {k: trial.suggest_categorical(k, list(v)) for k, v in space.neuron_dims.items()}
    # the output layer keeps the last entry so that depth changes do not reshuffle it
    return Architecture(hidden=tuple(widths[:depth]), bits=(*bits[:depth], bits[-1]),
                        sparsity=(*sparsity[:depth], sparsity[-1]), **shared)


def architecture_at(space: NasSpace, index: int) -> Architecture:
    """The `index`-th distinct architecture of the space (mixed-radix order), 0 <= index < grid_size."""
    if not 0 <= index < space.grid_size():
        raise ConfigError(f"grid index {index} is outside the space of {space.grid_size()} architectures")
    rest = index
    for d in space.depth:
        block = (math.prod(len(v) for v in space.neuron_dims.values())
                 * math.prod(len(space.widths[i]) for i in range(d))
                 * (len(space.bits) * len(space.sparsity)) ** (d + 1))
        if rest < block:
            break
        rest -= block

    def take(options: tuple[Any, ...]) -> Any:
        nonlocal rest
        rest, k = divmod(rest, len(options))
        return options[k]

    hidden = tuple(take(space.widths[i]) for i in range(d))
    bits = tuple(take(space.bits) for _ in range(d + 1))
    sparsity = tuple(take(space.sparsity) for _ in range(d + 1))
    shared = {k: take(v) for k, v in space.neuron_dims.items()}
    return Architecture(hidden=hidden, bits=bits, sparsity=sparsity, **shared)
