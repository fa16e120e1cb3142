"""The candidates of a search: train a model on the selection split, quantize it to int-n and
measure it through `spikeloom.measure` on the validation split (accuracy with per-sample
correctness, energy, and when asked a fault campaign). After selection, `report_test` adds
the test figures; selection never reads the test split.

Every step leaves its result on disk under `out/`, so an interrupted search resumes
without redoing finished work.

Two ways to obtain a candidate SNN (`SearchConfig.train_methods`):

- 'bptt': trained from scratch on the selection split's training part (`train.fit`);
- 'convert': the STEP 0 ANN (`out/models/ann/model.pt`, not retrained) converted to IF
  neurons (beta = 1, subtractive reset) by `train.convert`, with the normalisation lambdas
  taken on the selection split's training part (the same samples the ANN trained on, at most
  `conversion_config().norm_samples`), never on its validation part. The grid threshold theta is the
  IF threshold *and* a scale on every layer's lambda: the SNN is `build_snn` with lambdas
  theta * lambda_l, so layer l fires at ~clip(a_l / (theta lambda_l), 0, 1) spikes per step.
  theta = 1 is plain data-based conversion (what `train --method convert` gives at threshold
  1); theta < 1 fires more and saturates activations above theta lambda_l (like a lower
  percentile); theta > 1 fires less (fewer spikes, coarser rates). Encoding and readout are
  the BPTT candidates' (the `ModelConfig` defaults), so the two families differ only in how
  the weights were obtained and in the neuron (IF vs LIF).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spikeloom.data.registry import Dataset
from spikeloom.io import atomic_write_json
from spikeloom.search.config import SearchConfig
from spikeloom.search.start import load_start
from spikeloom.spec import ModelConfig, Spec, TrainConfig


def conversion_config():
    """The conversion every 'convert' candidate gets: the `train --method convert` defaults
    (99.9th-percentile normalisation on at most 10,000 training samples). Imported lazily:
    `train.convert` needs torch."""
    from spikeloom.train.convert import ConvertConfig  # noqa: PLC0415

    return ConvertConfig()


@dataclass(frozen=True)
class Measurement(Spec):
    """What the search knows about one model. Accuracies in [0, 1]; energy in pJ per sample.

    accuracy: validation accuracy after int-n quantization (the figure selection compares);
    correct: per-sample correctness on the validation split ('0'/'1' string, for paired tests);
    reliability_pct: faulty / fault-free accuracy x 100 at the search BER on the validation
    split, None when no campaign ran; stage: where the model stopped in the search (see
    `staged`); comparisons: SNN-vs-ANN comparisons (`spikeloom.measure.compare`);
    test: figures on the test split, filled in only after selection (`report_test`);
    lever: the reliability lever this candidate's memory uses ('none' or a `faults.mitigation`),
    lever_cost: its `measure.levers.lever_cost` (energy_pj already includes the decode energy);
    method: how the model was obtained ('bptt' or 'convert'; the ANN: 'bptt').
    """

    name: str
    model_config: dict[str, Any]
    accuracy: float
    accuracy_fp: float
    energy_pj: float
    ops_per_sample: float
    train_seconds: float
    checkpoint: str
    correct: str = ""
    reliability_pct: float | None = None
    campaign: dict[str, Any] | None = None
    energy: dict[str, Any] = field(default_factory=dict)
    stage: str = ""
    comparisons: dict[str, Any] = field(default_factory=dict)
    test: dict[str, Any] | None = None
    lever: str = "none"
    lever_cost: dict[str, Any] | None = None
    method: str = "bptt"

    @property
    def config(self) -> ModelConfig:
        return ModelConfig.from_dict(self.model_config)

    @property
    def correct_flags(self) -> list[bool]:
        return [c == "1" for c in self.correct]

    def row(self) -> dict[str, Any]:
        """The compact JSON row used in summary.json `configs` and candidate lists."""
        cfg = self.config
        return {"name": self.name, "arch": cfg.arch, "method": self.method, "timesteps": cfg.timesteps if cfg.arch == "snn" else None,
                "threshold": cfg.threshold if cfg.arch == "snn" else None,
                "accuracy": self.accuracy, "accuracy_fp": self.accuracy_fp,
                "reliability_pct": self.reliability_pct, "energy_pj": self.energy_pj,
                "ops_per_sample": self.ops_per_sample, "lever": self.lever, "stage": self.stage,
                "comparisons": self.comparisons, "test": self.test, "checkpoint": self.checkpoint}


class Measurer:
    """Trains and measures models for one search, caching every result under `out`.

    `selection` is the validation view of the data (`spikeloom.measure.validation_split`):
    models train on its x_train and are measured on its x_test (the validation part)."""

    def __init__(self, scfg: SearchConfig, selection: Dataset, out: Path, progress: bool = False,
                 log: Callable[[str], None] = lambda _s: None, device: Any = None,
                 executor: Any = None) -> None:
        self.scfg, self.data, self.out, self.progress, self.log = scfg, selection, out, progress, log
        self.device, self.executor = device, executor
        self.start = load_start(scfg.start) if scfg.start else None
        self.tcfg = TrainConfig(dataset=selection.name, epochs=scfg.epochs, batch_size=scfg.batch_size,
                                lr=scfg.lr, seed=scfg.seed, train_subset=scfg.train_subset,
                                lr_schedule=scfg.lr_schedule)

    def train_config(self, cfg: ModelConfig) -> TrainConfig:
        """SNNs start from the starting model's weights when there is one; the ANN never."""
        if self.start is None or cfg.arch != "snn":
            return self.tcfg
        return self.tcfg.replace(init_sha256=self.start.sha256)

    def _fingerprint(self, cfg: ModelConfig, method: str = "bptt") -> dict[str, Any]:
        fp = {"model": cfg.to_dict(), "train": self.train_config(cfg).to_dict(), "bits": self.scfg.bits,
              "precision": self.scfg.energy_precision, "val_fraction": self.scfg.val_fraction}
        if method == "convert":  # a converted SNN is as new as the ANN it came from
            fp.update(method="convert", conversion=conversion_config().to_dict(),
                      ann=self._fingerprint(ModelConfig(arch="ann", topology=cfg.topology, bias=cfg.bias)))
        return fp

    def _campaign_fingerprint(self) -> dict[str, Any]:
        s = self.scfg
        return {"bers": list(s.campaign_bers), "scope": s.scope, "trials": s.trials}

    def _cache(self, name: str) -> Path:
        return self.out / "results" / f"{name}.json"

    def measure(self, name: str, cfg: ModelConfig, campaign: bool, trained: str | None = None,
                method: str = "bptt") -> Measurement:
        """Measure `cfg`, cached by name and settings; a cached campaign is reused even when
        only the cheap measurements are asked for. Campaign only when `campaign`.
        trained: a checkpoint of `cfg` measured as it is (nothing trained). method: 'bptt'
        trains `cfg`, 'convert' converts the already measured ANN 'ann' into it."""
        cache = self._cache(name)
        fingerprint = self._fingerprint(cfg, method)
        saved = json.loads(cache.read_text()) if cache.exists() else {}
        if saved.get("fingerprint") == fingerprint:
            m = Measurement.from_dict(saved["measurement"])
            if not campaign or saved.get("campaign") == self._campaign_fingerprint():
                return m
        else:
            m = self._base(name, cfg, trained, method)
        campaign_fp = None
        if campaign:
            from spikeloom.measure import reliability_at  # noqa: PLC0415

            result = self._campaign(m, self.data.x_test, self.data.y_test, "campaigns")
            m = m.replace(campaign=result, reliability_pct=reliability_at(result, self.scfg.ber))
            campaign_fp = self._campaign_fingerprint()
        cache.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(cache, {"fingerprint": fingerprint, "campaign": campaign_fp,
                                  "measurement": m.to_dict()})
        return m

    def with_campaign(self, m: Measurement) -> Measurement:
        return self.measure(m.name, m.config, campaign=True, method=m.method)

    def with_lever(self, m: Measurement, lever: str) -> Measurement:
        """`m` (an unprotected candidate) with reliability lever `lever`: the same model and
        fault-free figures, the campaign under the lever on the same fault masks, the energy
        plus the lever's decode energy per weight read (one read per synaptic operation)."""
        from spikeloom.energy.tables import default_table  # noqa: PLC0415
        from spikeloom.measure import reliability_at  # noqa: PLC0415
        from spikeloom.measure.levers import lever_cost, protected_energy  # noqa: PLC0415

        name = f"{m.name}+{lever}"
        cache = self._cache(name)
        key = {"fingerprint": self._fingerprint(m.config, m.method), "campaign": self._campaign_fingerprint(),
               "lever": lever, "protected_bits": self.scfg.protected_bits}
        saved = json.loads(cache.read_text()) if cache.exists() else {}
        if saved.get("key") == key:
            return Measurement.from_dict(saved["measurement"])
        cost = lever_cost(m.config, self._campaign_config(lever), default_table(self.scfg.energy_precision))
        protected = m.replace(name=name, lever=lever, lever_cost=cost, stage="", comparisons={}, test=None,
                              energy_pj=protected_energy(m.energy_pj, m.ops_per_sample, cost))
        result = self._campaign(protected, self.data.x_test, self.data.y_test, "campaigns")
        protected = protected.replace(campaign=result, reliability_pct=reliability_at(result, self.scfg.ber))
        cache.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(cache, {"key": key, "measurement": protected.to_dict()})
        return protected

    def _models(self, path: str | Path):
        """(float model, int-n model) of a trained candidate's checkpoint."""
        from spikeloom.quant import apply_quantized, quantize_model  # noqa: PLC0415
        from spikeloom.snn.checkpoint import load_checkpoint  # noqa: PLC0415

        model = load_checkpoint(path).build(self.device or "cpu")
        return model, apply_quantized(model, quantize_model(model, bits=self.scfg.bits))

    def _base(self, name: str, cfg: ModelConfig, trained: str | None = None,
              method: str = "bptt") -> Measurement:
        from spikeloom.measure import correct, evaluate, measure_energy  # noqa: PLC0415
        from spikeloom.train import fit  # noqa: PLC0415

        if trained is not None:
            path, train_seconds = Path(trained), 0.0
        elif method == "convert":
            path = self.out / "models" / name / "model.pt"
            train_seconds = self._convert(cfg, path)
        else:
            path = self.out / "models" / name / "model.pt"
            tcfg = self.train_config(cfg)
            self.log(f"train {cfg.name}" + (" from the starting model" if tcfg.init_sha256 else ""))
            init = self.start.state if tcfg.init_sha256 and self.start else None
            train_seconds = fit(cfg, tcfg, self.data, path, progress=self.progress, device=self.device,
                                init_state=init).train_seconds
        model, qmodel = self._models(path)
        x, y, seed = self.data.x_test, self.data.y_test, self.scfg.seed
        flags = correct(qmodel, cfg, x, y, seed)
        energy = measure_energy(qmodel, cfg, x, seed=seed, precision=self.scfg.energy_precision)
        return Measurement(name=name, model_config=cfg.to_dict(), accuracy=float(flags.float().mean()),
                           accuracy_fp=evaluate(model, cfg, x, y, seed), energy_pj=energy.energy_pj_per_sample,
                           ops_per_sample=energy.ops_per_sample, train_seconds=train_seconds,
                           checkpoint=str(path), energy=energy.to_dict(),
                           correct="".join("1" if c else "0" for c in flags.tolist()), method=method)

    def conversion_inputs(self):
        """The training samples the lambdas are taken on: the ANN's own training samples
        (`train_subset` as `fit` applies it), at most `conversion_config().norm_samples`."""
        x = self.data.x_train[: self.tcfg.train_subset] if self.tcfg.train_subset else self.data.x_train
        return x[: conversion_config().norm_samples]

    def _convert(self, cfg: ModelConfig, path: Path) -> float:
        """Convert the STEP 0 ANN into `cfg` (IF neurons, threshold theta scaling every
        lambda), save it at `path`; the conversion's seconds."""
        from spikeloom.snn.checkpoint import Checkpoint, load_checkpoint, save_checkpoint  # noqa: PLC0415
        from spikeloom.train.convert import build_snn, check_convertible, layer_scales  # noqa: PLC0415

        ann_ckpt = load_checkpoint(self.out / "models" / "ann" / "model.pt")
        check_convertible(ann_ckpt)
        self.log(f"convert the ANN into {cfg.name}")
        device, cc = self.device or "cpu", conversion_config()
        t0 = time.perf_counter()
        scales = layer_scales(ann_ckpt.build(device), self.conversion_inputs().to(device), cc)
        snn_cfg, state = build_snn(ann_ckpt, cfg, tuple(cfg.threshold * s for s in scales))
        seconds = time.perf_counter() - t0
        path.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint(path, Checkpoint(snn_cfg, self.tcfg, state, epoch=ann_ckpt.epoch,
                                         metrics={"convert_seconds": seconds},
                                         extra={"method": "convert", "convert_config": cc.to_dict(),
                                                "scales": list(scales), "threshold_scale": cfg.threshold,
                                                "ann_config": ann_ckpt.model_config.to_dict()}))
        return seconds

    def _campaign(self, m: Measurement, x, y, folder: str) -> dict[str, Any]:
        from spikeloom.measure import measure_reliability  # noqa: PLC0415

        s, name, cfg = self.scfg, m.name, m.config
        _, qmodel = self._models(m.checkpoint)
        lever = "" if m.lever == "none" else f", lever {m.lever}"
        self.log(f"fault campaign {cfg.name} ({folder}): BER {', '.join(f'{b:g}' for b in s.campaign_bers)}, "
                 f"{s.trials} trials, scope {s.scope}{lever}")
        ccfg = self._campaign_config(m.lever)
        store = self.out / folder / f"{name}.jsonl"
        store.parent.mkdir(parents=True, exist_ok=True)
        result = measure_reliability(qmodel, cfg, x, y, ccfg, eval_seed=s.seed, store_path=store,
                                     progress=self.progress, executor=self.executor)
        return result.to_dict()

    def _campaign_config(self, lever: str = "none"):
        from spikeloom.faults import CampaignConfig  # noqa: PLC0415

        s = self.scfg
        return CampaignConfig(bers=s.campaign_bers, trials=s.trials, scope=s.scope, bits=s.bits,
                              seed=s.seed, engine=s.engine, mitigation=lever, protected_bits=s.protected_bits)

    def report_test(self, m: Measurement, test: Dataset, campaign: bool) -> Measurement:
        """`m` with its figures on the test split (accuracy; the fault campaign when asked).
        Called only after selection; cached like the validation figures. A model trained by
        another worker of a shared study whose checkpoint this machine cannot read keeps
        `test` None."""
        from spikeloom.measure import evaluate, measure_energy, reliability_at  # noqa: PLC0415
        from spikeloom.measure.levers import protected_energy  # noqa: PLC0415

        cache = self.out / "results" / f"{m.name}.test.json"
        key = {"fingerprint": self._fingerprint(m.config, m.method), "campaign": campaign and self._campaign_fingerprint(),
               **({"lever": m.lever_cost} if m.lever_cost else {})}
        saved = json.loads(cache.read_text()) if cache.exists() else {}
        if saved.get("key") == key:
            return m.replace(test=saved["test"])
        if not Path(m.checkpoint).exists():
            return m
        cfg, seed = m.config, self.scfg.seed
        model, qmodel = self._models(m.checkpoint)
        energy = measure_energy(qmodel, cfg, test.x_test, seed=seed, precision=self.scfg.energy_precision)
        figures: dict[str, Any] = {"accuracy": evaluate(qmodel, cfg, test.x_test, test.y_test, seed),
                                   "accuracy_fp": evaluate(model, cfg, test.x_test, test.y_test, seed),
                                   "energy_pj": protected_energy(energy.energy_pj_per_sample,
                                                                 energy.ops_per_sample, m.lever_cost),
                                   "samples": len(test.y_test)}
        if campaign:
            result = self._campaign(m, test.x_test, test.y_test, "campaigns-test")
            figures.update(reliability_pct=reliability_at(result, self.scfg.ber), campaign=result)
        cache.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(cache, {"key": key, "test": figures})
        return m.replace(test=figures)
