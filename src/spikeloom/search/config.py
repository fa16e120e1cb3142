"""Settings of the reliability-aware search (Algorithm 1) and its results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spikeloom.errors import ConfigError
from spikeloom.faults.fast import engine_name
from spikeloom.faults.mitigation import check_mitigation
from spikeloom.measure.compare import RULES, check_confidence
from spikeloom.measure.splits import check_val_fraction
from spikeloom.spec import Spec, format_topology, parse_topology

SCOPES = ("model", "layer", "both")
TRAIN_METHODS = ("bptt", "convert")
CONVERT_PREFIX = "conv-"


@dataclass(frozen=True)
class SearchConfig(Spec):
    """The grid and the measurements of a staged search.

    timesteps x thresholds is the SNN grid (STEP 1). ber: bit error rate of the fault
    campaigns that decide reliability; curve_bers: extra BERs measured for accuracy-vs-BER
    curves (no influence on selection). tolerance: accuracy an SNN may lose against the
    quantized ANN under the strict rule (fraction, default 0). energy_precision: 'int' or 'fp'
    column of the table. val_fraction: share of the training data held out for selection.
    rule: 'stat' (paired comparisons with confidence intervals; an SNN is dropped only when it
    is shown worse than the ANN by more than `margin` (accuracy, fraction) or
    `reliability_margin` (percentage points) at `confidence`) or 'strict' (the paper's rule on
    point estimates: SNN >= ANN - tolerance, reliability SNN >= ANN).
    start: checkpoint of an SNN the search starts from (`search.start`), None: none.
    levers: reliability levers (`faults.mitigation`: clamp, msb-parity, msb-ecc) an accurate SNN
    may add to its configuration: each (SNN, lever) is a candidate of its own, its campaign run
    under the lever on the same fault masks, its energy charged the lever's decode energy per
    weight read; protected_bits: the MSBs parity/ECC protect. The ANN stays unprotected.
    train_methods: how the grid's SNNs are obtained, one or both of 'bptt' (trained with
    surrogate gradients, LIF with `beta`) and 'convert' (the STEP 0 ANN converted to IF
    neurons, beta = 1; the grid threshold theta scales every layer's normalisation, see
    `search.candidates`); with both, every grid point is measured once per method.
    """

    dataset: str = "digits"
    topology: tuple[int, ...] = (64, 32, 10)
    timesteps: tuple[int, ...] = (10, 30)
    thresholds: tuple[float, ...] = (0.5, 1.5)
    beta: float = 0.95
    ber: float = 0.01
    curve_bers: tuple[float, ...] = ()
    scope: str = "model"
    trials: int = 10
    bits: int = 8
    engine: str = "auto"
    tolerance: float = 0.0
    rule: str = "stat"
    margin: float = 0.0
    reliability_margin: float = 0.0
    confidence: float = 0.95
    val_fraction: float = 0.15
    lowest_energy_only: bool = False
    epochs: int = 15
    batch_size: int = 32
    lr: float = 3e-3
    lr_schedule: str = "cosine"
    train_subset: int | None = None
    energy_precision: str = "int"
    seed: int = 0
    start: str | None = None
    levers: tuple[str, ...] = ()
    protected_bits: int = 2
    train_methods: tuple[str, ...] = ("bptt",)

    def __post_init__(self) -> None:
        object.__setattr__(self, "topology", parse_topology(self.topology))
        object.__setattr__(self, "timesteps", tuple(int(t) for t in self.timesteps))
        object.__setattr__(self, "thresholds", tuple(float(t) for t in self.thresholds))
        object.__setattr__(self, "curve_bers", tuple(float(b) for b in self.curve_bers))
        object.__setattr__(self, "levers", tuple(self.levers))
        for lever in self.levers:
            if lever == "none":
                raise ConfigError("--levers lists levers to add (clamp, msb-parity, msb-ecc); "
                                  "every SNN is measured without one anyway")
            check_mitigation(lever, self.protected_bits, self.bits, "bitflip")
        if not self.timesteps or not self.thresholds:
            raise ConfigError("empty search grid: give at least one --timesteps and one --thresholds value")
        if any(t < 1 for t in self.timesteps):
            raise ConfigError(f"timesteps must be positive integers, got {list(self.timesteps)}")
        if any(not th > 0 for th in self.thresholds):
            raise ConfigError(f"thresholds must be > 0, got {list(self.thresholds)}")
        for b in (self.ber, *self.curve_bers):
            if not 0.0 <= b <= 1.0:
                raise ConfigError(f"bit error rate {b} is outside [0, 1]; give e.g. --ber 0.01")
        if self.scope not in SCOPES:
            raise ConfigError(f"unknown scope {self.scope!r}; choose model, layer or both")
        if self.trials < 1:
            raise ConfigError(f"trials must be >= 1, got {self.trials}")
        if not 0.0 <= self.tolerance < 1.0:
            raise ConfigError(f"tolerance is a fraction of accuracy in [0, 1), got {self.tolerance}")
        if self.rule not in RULES:
            raise ConfigError(f"unknown decision rule {self.rule!r}; choose {' or '.join(RULES)}")
        if not 0.0 <= self.margin < 1.0 or self.reliability_margin < 0:
            raise ConfigError("margins must be >= 0 (accuracy margin a fraction below 1, "
                              "reliability margin in percentage points)")
        check_confidence(self.confidence)
        check_val_fraction(self.val_fraction)
        object.__setattr__(self, "engine", engine_name(self.engine))
        object.__setattr__(self, "train_methods", tuple(self.train_methods))
        bad = [m for m in self.train_methods if m not in TRAIN_METHODS]
        if bad or not self.train_methods or len(set(self.train_methods)) != len(self.train_methods):
            raise ConfigError(f"--train-method {' '.join(self.train_methods) or '(empty)'}: give one or both "
                              f"of {', '.join(TRAIN_METHODS)}, each once")
        if self.start and "convert" in self.train_methods:
            raise ConfigError("--train-method convert does not combine with --model: converted SNNs come "
                              "from the STEP 0 ANN, not from a starting SNN; drop one of them")
        if self.energy_precision not in ("int", "fp"):
            raise ConfigError(f"energy precision must be int or fp, got {self.energy_precision!r}")

    @property
    def grid(self) -> list[tuple[int, float]]:
        return [(t, th) for t in self.timesteps for th in self.thresholds]

    @property
    def campaign_bers(self) -> tuple[float, ...]:
        return tuple(sorted({self.ber, *self.curve_bers}))

    def to_dict(self) -> dict[str, Any]:
        """The start, lever and train-method fields only when used: Optuna study names (a hash of this) from
        before those features stay the same."""
        d = super().to_dict()
        d["topology"] = format_topology(self.topology)
        if self.start is None:
            d.pop("start")
        if not self.levers:
            d.pop("levers"), d.pop("protected_bits")
        if self.train_methods == ("bptt",):
            d.pop("train_methods")
        return d


def config_name(timesteps: int, threshold: float, method: str = "bptt") -> str:
    """'T10-th0.5' for a BPTT SNN, 'conv-T10-th0.5' for the converted one."""
    return f"{CONVERT_PREFIX if method == 'convert' else ''}T{timesteps}-th{threshold:g}"
