"""The campaign runner every command calls (`faults`, the searches, NAS): paired fault masks
(a trial's faults depend on the campaign seed, BER and trial index only), engines by name,
pruned synapses never hit, and the figures selection reads from a campaign."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from spikeloom.executor import ExecutorConfig
from spikeloom.faults import CampaignConfig, CampaignResult, run_campaign
from spikeloom.spec import ModelConfig


def stored_masks(extra: dict[str, Any]) -> list[torch.Tensor] | None:
    """The stored-synapse masks a pruned checkpoint carries (`extra['pruning']['masks']`)."""
    masks = (extra or {}).get("pruning", {}).get("masks")
    return None if masks is None else [torch.as_tensor(m).bool() for m in masks]


def measure_reliability(model: nn.Module, cfg: ModelConfig, x: torch.Tensor, y: torch.Tensor,
                        cc: CampaignConfig, eval_seed: int = 0, store_path: str | Path | None = None,
                        masks: list[torch.Tensor] | None = None, progress: bool = False,
                        log: Callable[[str], None] | None = None,
                        executor: ExecutorConfig | None = None) -> CampaignResult:
    """Fault campaign `cc` of `model` on (x [N, D], y [N]); `masks` marks the stored synapses of
    a pruned network (others are never hit). Resumable through `store_path`. `executor`: where
    blocks of trials run (default: this process; same per-trial results anywhere)."""
    return run_campaign(model, cfg, x, y, cc, eval_seed=eval_seed, store_path=store_path,
                        progress=progress, log=log, masks=masks, executor=executor)


def _rows(campaign: dict[str, Any], ber: float) -> list[dict[str, Any]]:
    rows = [r for r in campaign["results"] if abs(r["ber"] - ber) <= 1e-12 * max(1.0, ber)]
    return [r for r in rows if r["scope"] == "model"] or rows


def reliability_at(campaign: dict[str, Any], ber: float) -> float:
    """Reliability (%) at `ber`: model-wise when measured, else the mean over layers."""
    use = _rows(campaign, ber)
    return float(sum(r["reliability_pct"] for r in use) / len(use))


def trial_reliabilities(campaign: dict[str, Any], ber: float) -> list[float]:
    """Per-trial reliability (%) at `ber` in trial order (model-wise, else averaged over the
    layer scopes trial by trial): what a paired comparison of two campaigns reads."""
    use = _rows(campaign, ber)
    clean = campaign["clean_accuracy"]
    per_scope = [r["accuracies"] for r in use]
    n = min(len(a) for a in per_scope)
    return [100.0 * sum(a[k] for a in per_scope) / len(per_scope) / clean if clean > 0 else float("nan")
            for k in range(n)]
