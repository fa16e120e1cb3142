"""Fault-injection campaigns: Monte Carlo trials per scope and bit error rate, summarized with
mean, drop, reliability, standard deviation and 95% confidence interval.

Trial seeds depend on (campaign seed, BER, trial index) only, so the same trial of the ANN and
of the SNN of one topology see the same faults; `replay_trial` re-runs any recorded trial.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from spikeloom.errors import ConfigError, DataError
from spikeloom.executor import ExecutorConfig, run_units
from spikeloom.faults.blocks import BlockContext, blocks_of, run_block
from spikeloom.faults.fast import engine_name, make_engine, pick_engine
from spikeloom.faults.injection import (
    NEURON_FAULTS,
    WEIGHT_FAULTS,
    LayerFaults,
    check_fault,
    check_rate,
)
from spikeloom.faults.mitigation import check_mitigation
from spikeloom.faults.reference import ReferenceEngine
from spikeloom.faults.stats import leveugle_sample_size, mean_std_ci95, t_for_confidence
from spikeloom.faults.store import TrialStore
from spikeloom.faults.trial import read_faults
from spikeloom.quant import QuantizedWeights, apply_quantized, check_bits, quantize_model
from spikeloom.snn.inference import predict
from spikeloom.spec import ModelConfig, Spec

SCOPES = ("model", "layer", "both")
DEFAULT_BERS = (1e-4, 1e-3, 1e-2, 1e-1)


@dataclass(frozen=True)
class CampaignConfig(Spec):
    """What to inject and how often.

    bers: fault rates (bit error rate for weight faults, per-neuron rate for neuron faults).
    trials: Monte Carlo trials per scope and rate (ignored when `confidence` is set: then the
    Leveugle et al. sample size for error `margin` at that confidence is used, per scope).
    scope: 'model' (all layers at once), 'layer' (one layer at a time) or 'both'.
    layers: 1-based layers for layer-wise scopes (None: all). bits: weight bit width.
    threshold_factor: multiplier of a perturbed neuron's threshold (fault 'threshold').
    mitigation: reliability lever applied to the faulty words ('none', 'clamp', 'msb-parity',
    'msb-ecc'; `faults.mitigation`), protecting the `protected_bits` most significant bits.
    hit_bits: only these bit positions (0 = LSB, bits - 1 = sign) can be hit (None: all).
    """

    bers: tuple[float, ...] = DEFAULT_BERS
    trials: int = 20
    scope: str = "model"
    layers: tuple[int, ...] | None = None
    bits: int = 8
    per_channel: bool = False
    seed: int = 0
    engine: str = "auto"
    fault: str = "bitflip"
    threshold_factor: float = 0.5
    confidence: float | None = None
    margin: float = 0.01
    mitigation: str = "none"
    protected_bits: int = 2
    hit_bits: tuple[int, ...] | None = None

    def to_dict(self) -> dict:
        """The lever's fields only when one is used: configs, stores and caches written before
        the levers existed keep their keys."""
        d = super().to_dict()
        if self.mitigation == "none":
            d.pop("mitigation"), d.pop("protected_bits")
        if self.hit_bits is None:
            d.pop("hit_bits")
        return d

    def __post_init__(self) -> None:
        bers = (self.bers,) if isinstance(self.bers, (int, float)) else tuple(self.bers)
        if not bers:
            raise ConfigError("give at least one bit error rate, e.g. --ber 1e-3")
        object.__setattr__(self, "bers", tuple(check_rate(b) for b in bers))
        if self.layers is not None:
            object.__setattr__(self, "layers", tuple(int(v) for v in self.layers))
        if isinstance(self.trials, bool) or int(self.trials) != self.trials or self.trials < 1:
            raise ConfigError(f"trials must be a positive integer, got {self.trials}")
        if self.scope not in SCOPES:
            raise ConfigError(f"unknown scope {self.scope!r}; choose one of {', '.join(SCOPES)}")
        object.__setattr__(self, "engine", engine_name(self.engine))
        check_fault(self.fault)
        check_bits(self.bits)
        check_mitigation(self.mitigation, self.protected_bits, self.bits, self.fault)
        if self.hit_bits is not None:
            object.__setattr__(self, "hit_bits", tuple(int(b) for b in self.hit_bits))
            if not self.hit_bits or not all(0 <= b < self.bits for b in self.hit_bits):
                raise ConfigError(f"hit bits must be positions 0..{self.bits - 1} (0 = LSB, "
                                  f"{self.bits - 1} = sign), got {list(self.hit_bits)}")
        if not self.threshold_factor >= 0:
            raise ConfigError(f"threshold factor must be >= 0, got {self.threshold_factor}")
        if self.confidence is not None:
            t_for_confidence(self.confidence)
            leveugle_sample_size(math.inf, self.margin)


@dataclass(frozen=True)
class ScopeResult:
    """Statistics of one scope ('model' or 'layer:<i>') at one rate. Accuracies in [0, 1];
    accuracy_drop = clean - mean; reliability_pct = 100 mean / clean; ci95 = [low, high]."""

    scope: str
    ber: float
    trials: int
    mean_accuracy: float
    accuracy_drop: float
    reliability_pct: float
    std: float
    ci95: tuple[float, float]
    accuracies: tuple[float, ...] = field(repr=False, default=())
    seeds: tuple[int, ...] = field(repr=False, default=())

    def to_dict(self) -> dict:
        return {"scope": self.scope, "ber": self.ber, "trials": self.trials,
                "mean_accuracy": self.mean_accuracy, "accuracy_drop": self.accuracy_drop,
                "reliability_pct": self.reliability_pct, "std": self.std,
                "ci95": list(self.ci95), "accuracies": list(self.accuracies)}


@dataclass(frozen=True)
class CampaignResult:
    """clean_accuracy: the quantized model without faults; float_accuracy: before quantization
    (None when the model came in already quantized)."""

    clean_accuracy: float
    results: tuple[ScopeResult, ...]
    config: CampaignConfig
    float_accuracy: float | None = None
    seconds: float = 0.0
    engine: str = "reference"

    def to_dict(self) -> dict:
        return {"clean_accuracy": self.clean_accuracy, "engine": self.engine,
                "fault_seed": self.config.seed, "results": [r.to_dict() for r in self.results]}

    def result(self, scope: str, ber: float) -> ScopeResult:
        for r in self.results:
            if r.scope == scope and r.ber == ber:
                return r
        raise KeyError((scope, ber))


def fault_layers(cfg: ModelConfig, fault: str) -> tuple[int, ...]:
    """1-based layers a fault model can hit (neuron faults skip a non-spiking output layer)."""
    n = len(cfg.topology) - 1
    if fault in NEURON_FAULTS and cfg.arch == "snn" and cfg.readout == "membrane":
        return tuple(range(1, n))
    return tuple(range(1, n + 1))


def scopes_of(cfg: ModelConfig, cc: CampaignConfig) -> list[tuple[str, tuple[int, ...]]]:
    """[(scope name, 1-based layers)] the campaign covers; `ConfigError` for a missing layer."""
    possible = fault_layers(cfg, cc.fault)
    if cc.layers is not None:
        for layer in cc.layers:
            if layer not in possible:
                raise ConfigError(
                    f"layer index {layer} does not exist for {cc.fault} faults; this model has "
                    f"layers {possible[0]}..{possible[-1]}" if possible else
                    f"the model has no layer that {cc.fault} faults can hit")
    out: list[tuple[str, tuple[int, ...]]] = []
    if cc.scope in ("model", "both"):
        out.append(("model", possible))
    if cc.scope in ("layer", "both"):
        out += [(f"layer:{i}", (i,)) for i in (cc.layers or possible)]
    return out


def fault_population(cfg: ModelConfig, cc: CampaignConfig, layers: tuple[int, ...]) -> int:
    """Number of single-fault sites in `layers`: stored bits for weight faults, neurons else."""
    sizes = cfg.topology
    if cc.fault in WEIGHT_FAULTS:
        return sum(sizes[i - 1] * sizes[i] * cc.bits for i in layers)
    return sum(sizes[i] for i in layers)


def trials_for(cfg: ModelConfig, cc: CampaignConfig, layers: tuple[int, ...]) -> int:
    if cc.confidence is None:
        return int(cc.trials)
    return leveugle_sample_size(fault_population(cfg, cc, layers), cc.margin,
                                t_for_confidence(cc.confidence))


def check_campaign(model: nn.Module, cfg: ModelConfig, cc: CampaignConfig) -> None:
    """`ConfigError` for requests the model cannot serve."""
    if cfg.arch == "ann" and cc.fault in ("saturated", "threshold"):
        raise ConfigError(f"{cc.fault} neuron faults need an SNN; the ANN has no spikes or "
                          "thresholds (use bitflip, stuck-at-0/1 or dead)")
    if len(getattr(model, "fcs", [])) != len(cfg.topology) - 1:
        raise ConfigError("model and model config disagree on the number of layers")


def _fingerprint(qw: QuantizedWeights, cfg: ModelConfig, cc: CampaignConfig,
                 x: torch.Tensor, y: torch.Tensor, eval_seed: int,
                 masks: list[torch.Tensor] | None = None) -> str:
    h = hashlib.sha256()
    settings = cc.to_dict() | {"trials": None, "engine": None, "scope": None, "layers": None,
                               "bers": None, "confidence": None, "margin": None}
    h.update(json.dumps([cfg.to_dict(), settings, eval_seed], sort_keys=True).encode())
    for t in (*qw.q, *qw.scale, x, y, *(masks or [])):
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:32]


def prepare_quantized(model: nn.Module, cc: CampaignConfig) -> tuple[QuantizedWeights, nn.Module, bool]:
    """(integer weights, quantized model, whether the input model was float)."""
    from spikeloom.quant import quantization_of  # noqa: PLC0415

    existing = quantization_of(model)
    if existing is not None and (existing.bits != cc.bits or existing.per_channel != cc.per_channel):
        kind = "per-channel" if existing.per_channel else "per-tensor"
        raise ConfigError(f"the model is quantized to int{existing.bits} {kind}, not "
                          f"int{cc.bits}; ask for --bits {existing.bits}"
                          f"{' --per-channel' if existing.per_channel else ''} or give the float model")
    qw = existing or quantize_model(model, cc.bits, cc.per_channel)
    return qw, (model if existing is not None else apply_quantized(model, qw)), existing is None


def run_campaign(model: nn.Module, model_config: ModelConfig, x: torch.Tensor, y: torch.Tensor,
                 campaign_config: CampaignConfig | None = None, eval_seed: int = 0,
                 store_path: str | Path | None = None, progress: bool = False,
                 log: Callable[[str], None] | None = None,
                 masks: list[torch.Tensor] | None = None,
                 executor: ExecutorConfig | None = None) -> CampaignResult:
    """Run a campaign on (x [N, D], y [N]) and return its statistics.

    `model` is a float model (quantized here to `bits`) or one from `apply_quantized` (its
    scheme must match). `masks` (bool [out, in] per layer) marks the stored synapses of a
    pruned network; faults never touch the others. With `store_path`, finished trials are
    appended there as they come and a re-run with the same arguments skips them. `executor`
    spreads blocks of trials over worker processes or a Ray cluster (default: this process);
    the per-trial results are those of a serial run.
    """
    cc = campaign_config or CampaignConfig()
    cfg = model_config
    check_campaign(model, cfg, cc)
    if len(x) == 0 or len(x) != len(y):
        raise DataError(f"need a non-empty test set with one label per sample, got {len(x)} "
                        f"samples and {len(y)} labels")
    if x.shape[1] != cfg.input_size:
        raise DataError(f"inputs have {x.shape[1]} features, the model expects {cfg.input_size}")
    scopes = scopes_of(cfg, cc)
    started = time.perf_counter()
    qw, qmodel, was_float = prepare_quantized(model, cc)
    masks = None if masks is None else [m.bool().cpu() for m in masks]
    store = TrialStore(store_path, _fingerprint(qw, cfg, cc, x, y, eval_seed, masks))
    try:
        jobs = [(scope, layers, ber, k)
                for ber in cc.bers for scope, layers in scopes
                for k in range(trials_for(cfg, cc, layers))]
        pending = [j for j in jobs if store.get(j[0], j[2], j[3]) is None]
        executor = executor or ExecutorConfig()
        local = executor.kind == "inprocess"
        engine = make_engine(cc.engine if pending and local else "reference", qmodel, cfg, qw, x, y,
                             eval_seed)
        # the engine this campaign's trials come from (all engines give identical trials)
        used = engine.name if pending and local else pick_engine(cc.engine, qmodel, cfg, qw)
        clean = engine.clean_accuracy()
        from tqdm.auto import tqdm  # noqa: PLC0415

        bar = tqdm(total=len(jobs), initial=len(jobs) - len(pending), disable=not progress,
                   desc=f"faults {cfg.name} ({used})", unit="trial", leave=False)
        # workers resolve the engine name themselves ('auto': the fastest their installation has)
        ctx = BlockContext(f"{store.fingerprint}|{cc.engine}", cc.engine, qmodel, cfg, qw, x, y,
                           eval_seed, cc.seed, cc.fault, cc.threshold_factor, clean, masks, cc)
        batch = int(getattr(engine, "batch", 1)) if local else 1
        units = ([pending[i:i + batch] for i in range(0, len(pending), batch)] if local
                 else blocks_of(pending, executor.worker_count()))
        work = functools.partial(run_block, engine=engine) if local else run_block
        on_gpu = next(qmodel.parameters()).device.type == "cuda"
        gpus = 1.0 / executor.worker_count() if on_gpu else 0.0  # workers share the GPU
        for _, records in run_units(executor, work, ctx, units, log, gpus):
            for scope, ber, k, seed, accuracy in records:
                store.add(scope, ber, k, seed, accuracy)
                bar.update(1)
                bar.set_postfix(scope=scope, ber=f"{ber:g}")
        bar.close()
    finally:
        store.close()
    float_acc = None
    if was_float:
        float_acc = float((predict(model, cfg, x, eval_seed) == y.cpu()).float().mean())
    results = []
    for ber in cc.bers:
        for scope, layers in scopes:
            recs = [store.get(scope, ber, k) for k in range(trials_for(cfg, cc, layers))]
            results.append(summarize(scope, ber, clean, [r["accuracy"] for r in recs],
                                     [r["seed"] for r in recs]))
    return CampaignResult(clean, tuple(results), cc, float_acc, time.perf_counter() - started, used)


def summarize(scope: str, ber: float, clean: float, accuracies: list[float],
              seeds: list[int]) -> ScopeResult:
    mean, std, ci = mean_std_ci95(accuracies)
    reliability = 100.0 * mean / clean if clean > 0 else float("nan")
    return ScopeResult(scope, ber, len(accuracies), mean, clean - mean, reliability, std, ci,
                       tuple(accuracies), tuple(seeds))


def replay_trial(model: nn.Module, model_config: ModelConfig, x: torch.Tensor, y: torch.Tensor,
                 campaign_config: CampaignConfig, scope: str, ber: float, seed: int,
                 eval_seed: int = 0) -> float:
    """Re-run one recorded trial (its scope, rate and seed) with the reference engine."""
    cc = campaign_config
    layers = dict(scopes_of(model_config, cc.replace(scope="both", layers=None))).get(scope)
    if layers is None:
        raise ConfigError(f"unknown scope {scope!r}; use 'model' or 'layer:<index>'")
    qw, qmodel, _ = prepare_quantized(model, cc)
    faults = read_faults(qw, cc, ber, seed, layers)
    return ReferenceEngine(qmodel, model_config, qw, x, y, eval_seed).accuracy(faults)


def trial_faults(qw: QuantizedWeights, model_config: ModelConfig, campaign_config: CampaignConfig,
                 scope: str, ber: float, seed: int) -> list[LayerFaults]:
    """The faults a recorded trial injected (for inspection and paired comparisons)."""
    cc = campaign_config
    layers = dict(scopes_of(model_config, cc.replace(scope="both", layers=None)))[scope]
    return read_faults(qw, cc, ber, seed, layers)
