"""Blocks of fault trials as executor work units (`spikeloom.executor`).

A block is a list of trials (scope, 1-based layers, rate, trial index). Every worker rebuilds
the campaign's engine once from a `BlockContext` (the quantized model, the data and the
settings) and keeps it for later blocks of the same campaign, so a block's trials get exactly
the accuracies the same engine gives them in a serial run: each trial's faults depend only on
its seed, and every engine is exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from spikeloom.faults.injection import sample_trial_faults
from spikeloom.faults.trial import read_faults, structural_zeros, trial_seed
from spikeloom.quant import QuantizedWeights
from spikeloom.spec import ModelConfig

Trial = tuple[str, tuple[int, ...], float, int]  # scope, layers, rate, trial index
TrialResult = tuple[str, float, int, int, float]  # scope, rate, trial index, seed, accuracy
MAX_BLOCK = 32  # trials per unit at most when work is spread over workers


@dataclass(frozen=True)
class BlockContext:
    """What a worker needs to run any block of one campaign. key: the campaign fingerprint."""

    key: str
    engine: str
    model: nn.Module
    cfg: ModelConfig
    qw: QuantizedWeights
    x: torch.Tensor
    y: torch.Tensor
    eval_seed: int
    campaign_seed: int
    fault: str
    threshold_factor: float
    clean: float
    masks: list[torch.Tensor] | None = None  # stored synapses of a pruned network
    campaign: Any = None  # the CampaignConfig: its lever (mitigation) and hit_bits shape the reads


_ENGINE: dict[str, Any] = {}  # this process's engine of the last campaign it served


def engine_for(ctx: BlockContext):
    """The context's engine, built once per process (the latest campaign only)."""
    if ctx.key not in _ENGINE:
        from spikeloom.faults.fast import make_engine  # noqa: PLC0415

        _ENGINE.clear()
        _ENGINE[ctx.key] = make_engine(ctx.engine, ctx.model, ctx.cfg, ctx.qw, ctx.x, ctx.y,
                                       ctx.eval_seed)
    return _ENGINE[ctx.key]


def run_block(ctx: BlockContext, block: list[Trial], engine: Any = None) -> list[TrialResult]:
    """Accuracies of the block's trials (an engine with `accuracies` evaluates them together)."""

    engine = engine if engine is not None else engine_for(ctx)
    seeds = [trial_seed(ctx.campaign_seed, ber, k) for _, _, ber, k in block]
    bits = ctx.qw.layer_bits or ctx.qw.bits
    if ctx.campaign is not None:
        faults = [structural_zeros(read_faults(ctx.qw, ctx.campaign, ber, seed, layers), ctx.masks)
                  for (_, layers, ber, _), seed in zip(block, seeds)]
    else:
        faults = [structural_zeros(sample_trial_faults(ctx.qw.q, bits, ctx.fault, ber, seed, layers,
                                                       ctx.threshold_factor), ctx.masks)
                  for (_, layers, ber, _), seed in zip(block, seeds)]
    hit = [i for i, f in enumerate(faults) if f]
    accuracies = [ctx.clean] * len(block)
    if hasattr(engine, "accuracies"):
        for i, acc in zip(hit, engine.accuracies([faults[i] for i in hit])):
            accuracies[i] = acc
    else:
        for i in hit:
            accuracies[i] = engine.accuracy(faults[i])
    return [(scope, ber, k, seed, acc)
            for (scope, _, ber, k), seed, acc in zip(block, seeds, accuracies)]


def blocks_of(trials: list[Trial], workers: int, at_least: int = 1) -> list[list[Trial]]:
    """Consecutive blocks: about four per worker (so a lost worker costs little and the
    workers finish together), at least `at_least` and at most MAX_BLOCK trials each."""
    size = max(at_least, min(MAX_BLOCK, math.ceil(len(trials) / (4 * workers)) if trials else 1))
    return [trials[i:i + size] for i in range(0, len(trials), size)]
