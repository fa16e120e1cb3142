"""Measure one model the way the co-design search needs it: train, quantize to int-n,
count operations for energy, and (when asked) run a fault campaign.

Every step leaves its result on disk under `out/`, so an interrupted search resumes
without redoing finished work.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spikeloom.data.registry import Dataset
from spikeloom.io import atomic_write_json
from spikeloom.search.config import SearchConfig
from spikeloom.spec import ModelConfig, Spec, TrainConfig


@dataclass(frozen=True)
class Measurement(Spec):
    """What the search knows about one model. Accuracies in [0, 1]; energy in pJ per sample.

    accuracy: test accuracy after int-n quantization (the figure compared in the search);
    reliability_pct: faulty / fault-free accuracy x 100 at the search BER, None when no
    campaign ran; stage: where the model stopped in the search (see `staged`).
    """

    name: str
    model_config: dict[str, Any]
    accuracy: float
    accuracy_fp: float
    energy_pj: float
    ops_per_sample: float
    train_seconds: float
    checkpoint: str
    reliability_pct: float | None = None
    campaign: dict[str, Any] | None = None
    energy: dict[str, Any] = field(default_factory=dict)
    stage: str = ""

    @property
    def config(self) -> ModelConfig:
        return ModelConfig.from_dict(self.model_config)

    def row(self) -> dict[str, Any]:
        """The compact JSON row used in summary.json `configs` and candidate lists."""
        cfg = self.config
        return {"name": self.name, "arch": cfg.arch, "timesteps": cfg.timesteps if cfg.arch == "snn" else None,
                "threshold": cfg.threshold if cfg.arch == "snn" else None,
                "accuracy": self.accuracy, "accuracy_fp": self.accuracy_fp,
                "reliability_pct": self.reliability_pct, "energy_pj": self.energy_pj,
                "ops_per_sample": self.ops_per_sample, "stage": self.stage,
                "checkpoint": self.checkpoint}


def reliability_at(campaign: dict[str, Any], ber: float) -> float:
    """Reliability (%) at `ber`: model-wise when measured, else the mean over layers."""
    rows = [r for r in campaign["results"] if abs(r["ber"] - ber) <= 1e-12 * max(1.0, ber)]
    model_rows = [r for r in rows if r["scope"] == "model"]
    use = model_rows or rows
    return float(sum(r["reliability_pct"] for r in use) / len(use))


class Measurer:
    """Trains and measures models for one search, caching every result under `out`."""

    def __init__(self, scfg: SearchConfig, data: Dataset, out: Path, progress: bool = False,
                 log: Callable[[str], None] = lambda _s: None) -> None:
        self.scfg, self.data, self.out, self.progress, self.log = scfg, data, out, progress, log
        self.tcfg = TrainConfig(dataset=data.name, epochs=scfg.epochs, batch_size=scfg.batch_size,
                                lr=scfg.lr, seed=scfg.seed, train_subset=scfg.train_subset,
                                lr_schedule=scfg.lr_schedule)

    def _fingerprint(self, cfg: ModelConfig) -> dict[str, Any]:
        return {"model": cfg.to_dict(), "train": self.tcfg.to_dict(), "bits": self.scfg.bits,
                "precision": self.scfg.energy_precision}

    def _campaign_fingerprint(self) -> dict[str, Any]:
        s = self.scfg
        return {"bers": list(s.campaign_bers), "scope": s.scope, "trials": s.trials, "engine": s.engine}

    def _cache(self, name: str) -> Path:
        return self.out / "results" / f"{name}.json"

    def measure(self, name: str, cfg: ModelConfig, campaign: bool) -> Measurement:
        """Measure `cfg`, cached by name and settings; a cached campaign is reused even when
        only the cheap measurements are asked for. Campaign only when `campaign`."""
        cache = self._cache(name)
        fingerprint = self._fingerprint(cfg)
        saved = json.loads(cache.read_text()) if cache.exists() else {}
        if saved.get("fingerprint") == fingerprint:
            m = Measurement.from_dict(saved["measurement"])
            if not campaign or saved.get("campaign") == self._campaign_fingerprint():
                return m
        else:
            m = self._base(name, cfg)
        campaign_fp = None
        if campaign:
            result = self._campaign(name, cfg)
            m = m.replace(campaign=result, reliability_pct=reliability_at(result, self.scfg.ber))
            campaign_fp = self._campaign_fingerprint()
        cache.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(cache, {"fingerprint": fingerprint, "campaign": campaign_fp,
                                  "measurement": m.to_dict()})
        return m

    def with_campaign(self, m: Measurement) -> Measurement:
        return self.measure(m.name, m.config, campaign=True)

    def _quantized(self, name: str, cfg: ModelConfig):
        from spikeloom.quant import apply_quantized, quantize_model  # noqa: PLC0415
        from spikeloom.snn.checkpoint import load_checkpoint  # noqa: PLC0415

        ckpt = load_checkpoint(self.out / "models" / name / "model.pt")
        model = ckpt.build()
        return model, apply_quantized(model, quantize_model(model, bits=self.scfg.bits))

    def _base(self, name: str, cfg: ModelConfig) -> Measurement:
        from spikeloom.energy import estimate_energy  # noqa: PLC0415
        from spikeloom.train import evaluate, fit  # noqa: PLC0415

        path = self.out / "models" / name / "model.pt"
        self.log(f"train {cfg.name}")
        trained = fit(cfg, self.tcfg, self.data, path, progress=self.progress)
        _, qmodel = self._quantized(name, cfg)
        x, y = self.data.x_test, self.data.y_test
        accuracy = evaluate(qmodel, cfg, x, y, seed=self.scfg.seed)
        energy = estimate_energy(qmodel, cfg, x, seed=self.scfg.seed,
                                 precision=self.scfg.energy_precision)
        return Measurement(name=name, model_config=cfg.to_dict(), accuracy=accuracy,
                           accuracy_fp=trained.test_accuracy, energy_pj=energy.energy_pj_per_sample,
                           ops_per_sample=energy.ops_per_sample, train_seconds=trained.train_seconds,
                           checkpoint=str(path), energy=energy.to_dict())

    def _campaign(self, name: str, cfg: ModelConfig) -> dict[str, Any]:
        from spikeloom.faults import CampaignConfig, run_campaign  # noqa: PLC0415

        s = self.scfg
        _, qmodel = self._quantized(name, cfg)
        self.log(f"fault campaign {cfg.name}: BER {', '.join(f'{b:g}' for b in s.campaign_bers)}, "
                 f"{s.trials} trials, scope {s.scope}")
        ccfg = CampaignConfig(bers=s.campaign_bers, trials=s.trials, scope=s.scope, bits=s.bits,
                              seed=s.seed, engine=s.engine)
        store = self.out / "campaigns" / f"{name}.jsonl"
        store.parent.mkdir(parents=True, exist_ok=True)
        result = run_campaign(qmodel, cfg, self.data.x_test, self.data.y_test, ccfg,
                              eval_seed=s.seed, store_path=store, progress=self.progress)
        return result.to_dict()
