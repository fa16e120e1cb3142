"""Objectives of the architecture search and the evaluator that measures them.

Objective names and directions (`OBJECTIVES`):
  accuracy     validation accuracy of the compressed (pruned + quantized) SNN, in [0, 1]  max
  energy       pJ per sample: spike-driven accumulates over the remaining synapses x E_ACC  min
  reliability  faulty / clean accuracy x 100 under weight bit flips at `ber`             max
  latency      timesteps x weight layers (sequential steps per inference)               min
  memory       weight memory in bits (stored weights x their bit width)                 min
  area         memristor cells of the crossbars the mapped network uses                 min
  routes       global routes (axons from another crossbar) of that mapping              min

Every objective is measured through `spikeloom.measure` on the validation split carved from
the training data (never the test set); `report_test` adds the test accuracy of the chosen
architectures after the search.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from spikeloom.data.registry import Dataset
from spikeloom.errors import ConfigError
from spikeloom.io import atomic_write_json
from spikeloom.measure import evaluate, measure_energy, validation_split
from spikeloom.measure.graph import graph_from_layers
from spikeloom.search.nas.compress import (
    finetune_masked,
    memory_bits,
    prune_masks,
    prunes_anything,
    quantize_mixed,
)
from spikeloom.search.nas.hardware import latency_proxy, map_graph, max_inputs
from spikeloom.search.nas.space import Architecture
from spikeloom.spec import LR_SCHEDULES, ModelConfig, Spec, TrainConfig

OBJECTIVES: dict[str, str] = {
    "accuracy": "maximize", "energy": "minimize", "reliability": "maximize", "latency": "minimize",
    "memory": "minimize", "area": "minimize", "routes": "minimize",
}
TRAINED = ("accuracy", "energy", "reliability")  # objectives that need a trained model


def parse_objectives(text: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """'accuracy,energy,area' -> ('accuracy', 'energy', 'area'); ConfigError on unknown names."""
    names = [s.strip() for s in (text.split(",") if isinstance(text, str) else text) if s.strip()]
    if not names:
        raise ConfigError("give at least one objective, e.g. --objectives accuracy,energy,area")
    for n in names:
        if n not in OBJECTIVES:
            raise ConfigError(f"unknown objective {n!r}; choose from {', '.join(OBJECTIVES)}")
    if len(set(names)) != len(names):
        raise ConfigError(f"objective listed twice in {','.join(names)}; give each once")
    return tuple(names)


@dataclass(frozen=True)
class EvalSettings(Spec):
    """How one architecture is trained and measured.

    val_fraction: share of the training split held out for selection; finetune_epochs: masked
    epochs after pruning; eval_samples: validation samples for accuracy/energy/reliability
    (None = all); ber / fault_trials: bit-flip rate and Monte Carlo trials of `reliability`;
    map_time_limit: seconds per mapping; map_exact: let CP-SAT run (else heuristic + LNS);
    lr_schedule: 'constant' or 'cosine' (as `TrainConfig`)."""

    epochs: int = 10
    batch_size: int = 32
    lr: float = 5e-3
    lr_schedule: str = "constant"
    train_subset: int | None = None
    val_fraction: float = 0.15
    finetune_epochs: int = 1
    eval_samples: int | None = None
    ber: float = 1e-3
    fault_trials: int = 3
    map_time_limit: float = 1.0
    map_exact: bool = False
    precision: str = "int"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 0 or self.finetune_epochs < 0:
            raise ConfigError("epochs must be >= 0")
        if not 0.0 < self.val_fraction < 0.9:
            raise ConfigError(f"validation fraction must be in (0, 0.9), got {self.val_fraction}")
        if not 0.0 <= self.ber <= 1.0:
            raise ConfigError(f"bit error rate {self.ber} is outside [0, 1]")
        if self.fault_trials < 1 or self.map_time_limit <= 0:
            raise ConfigError("fault trials must be >= 1 and the mapping time limit > 0")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(f"unknown learning-rate schedule {self.lr_schedule!r}; choose {', '.join(LR_SCHEDULES)}")


@dataclass(frozen=True)
class Evaluation(Spec):
    """What one architecture measured at one fidelity ('full', 'low' or 'proxy').

    objectives: name -> value (see module docstring); score: the cheap evaluator's ranking
    figure (low: validation accuracy, proxy: SAHD), None at full fidelity."""

    key: str
    fidelity: str
    architecture: dict[str, Any]
    objectives: dict[str, float]
    seconds: float
    score: float | None = None
    hardware: dict[str, Any] = field(default_factory=dict)
    checkpoint: str = ""

    @property
    def arch(self) -> Architecture:
        return Architecture.from_dict(self.architecture)


def export_compressed(path: Path, qmodel: torch.nn.Module, masks: list[torch.Tensor], cfg: ModelConfig,
                      tcfg: TrainConfig, arch: Architecture, metrics: dict[str, Any]) -> Path:
    """Save the pruned, quantized network as a spikeloom checkpoint that every command
    measures exactly as the search did: the integer weights as its quantization record
    (per-layer bit widths), the stored-synapse masks as `extra['pruning']` (faults never hit
    pruned synapses), and the architecture as `extra['nas']`."""
    from spikeloom.quant import quantization_of, quantized_checkpoint  # noqa: PLC0415
    from spikeloom.snn.checkpoint import Checkpoint, save_checkpoint  # noqa: PLC0415

    state = {k: v.detach().cpu().clone() for k, v in qmodel.state_dict().items()
             if not k.endswith((".q", ".scale"))}
    ckpt = Checkpoint(cfg, tcfg, state, epoch=tcfg.epochs, metrics=dict(metrics),
                      extra={"nas": {"architecture": arch.to_dict(), "bits": list(arch.bits)},
                             "pruning": {"masks": [m.bool().cpu() for m in masks]}})
    return save_checkpoint(path, quantized_checkpoint(ckpt, quantization_of(qmodel)))


def nas_reliability(qmodel: torch.nn.Module, cfg: ModelConfig, x: torch.Tensor, y: torch.Tensor,
                    masks: list[torch.Tensor], arch: Architecture, settings: EvalSettings) -> float:
    """Reliability (%) at `settings.ber`: the campaign runner every command uses (model-wise
    bit flips of the stored synapses, paired masks from `settings.seed`)."""
    from spikeloom.faults import CampaignConfig  # noqa: PLC0415
    from spikeloom.measure import measure_reliability, reliability_at  # noqa: PLC0415

    cc = CampaignConfig(bers=(settings.ber,), trials=settings.fault_trials, scope="model",
                        bits=max(arch.bits), seed=settings.seed)
    result = measure_reliability(qmodel, cfg, x, y, cc, eval_seed=settings.seed, masks=masks)
    return reliability_at(result.to_dict(), settings.ber)


def report_test(ev: Evaluation, data: Dataset) -> float:
    """Test accuracy of a full-fidelity evaluation's compressed network (after the search)."""
    from spikeloom.quant import build_checkpoint_model  # noqa: PLC0415
    from spikeloom.snn.checkpoint import load_checkpoint  # noqa: PLC0415

    ckpt = load_checkpoint(Path(ev.checkpoint).with_name("compressed.pt"))
    return evaluate(build_checkpoint_model(ckpt), ckpt.model_config, data.x_test, data.y_test,
                    seed=ckpt.train_config.seed)


def _cache_path(out: Path, arch: Architecture, fidelity: str) -> Path:
    return out / "evals" / f"{arch.key}-{fidelity}.json"


def eval_fingerprint(arch: Architecture, data: Dataset, settings: EvalSettings, objectives: tuple[str, ...],
                     fidelity: str, low: dict[str, Any] | None) -> dict[str, Any]:
    """What a cached evaluation must match to be reused."""
    return {"arch": arch.to_dict(), "settings": settings.to_dict(), "objectives": list(objectives),
            "fidelity": fidelity, "low": (low or {}) if fidelity == "low" else None, "data": data.name}


def cached(out: Path, arch: Architecture, fidelity: str, fingerprint: dict[str, Any]) -> Evaluation | None:
    path = _cache_path(out, arch, fidelity)
    if path.exists():
        saved = json.loads(path.read_text())
        if saved.get("fingerprint") == fingerprint:
            return Evaluation.from_dict(saved["evaluation"])
    return None


def hardware_objectives(arch: Architecture, masks: list[torch.Tensor], qs: list[torch.Tensor],
                        objectives: tuple[str, ...], settings: EvalSettings) -> tuple[dict[str, float], dict[str, Any]]:
    """latency, memory, and (when asked) area and routes of the mapped network (the graph of
    `spikeloom.measure.graph` with the default pruning policy, as `map --model` builds it)."""
    out = {"latency": float(latency_proxy(arch.timesteps, arch.depth + 1)),
           "memory": float(memory_bits(masks, arch.bits))}
    hw: dict[str, Any] = {}
    if "area" in objectives or "routes" in objectives:
        cost = map_graph(graph_from_layers([q.float() for q in qs]), arch.library, settings.map_time_limit,
                         settings.seed, settings.map_exact)
        out.update(area=cost.area, routes=cost.global_routes)
        hw = cost.to_dict()
    return out, hw


def evaluate_architecture(arch: Architecture, data: Dataset, settings: EvalSettings, out: Path,
                          objectives: tuple[str, ...], fidelity: str = "full",
                          low: dict[str, Any] | None = None, progress: bool = False,
                          device: Any = None) -> Evaluation:
    """Train (per fidelity), compress and measure `arch`; cached under `out/evals`.

    fidelity 'full': `settings` as given; 'low': `low` overrides epochs / train_subset /
    timesteps_factor; 'proxy': no training, accuracy is replaced by the SAHD score at
    initialisation and energy by the accumulates of the untrained network."""
    from spikeloom.search.nas.proxy import sahd_score  # noqa: PLC0415
    from spikeloom.train import fit  # noqa: PLC0415

    low = low or {}
    fingerprint = eval_fingerprint(arch, data, settings, objectives, fidelity, low)
    hit = cached(out, arch, fidelity, fingerprint)
    if hit is not None:
        return hit
    t0 = time.perf_counter()
    split = validation_split(data, settings.val_fraction, settings.seed)
    timesteps = arch.timesteps
    tcfg = TrainConfig(dataset=data.name, epochs=settings.epochs, batch_size=settings.batch_size,
                       lr=settings.lr, seed=settings.seed, train_subset=settings.train_subset,
                       lr_schedule=settings.lr_schedule)
    finetune = settings.finetune_epochs
    if fidelity == "low":
        timesteps = max(1, int(round(arch.timesteps * float(low.get("timesteps_factor", 0.5)))))
        tcfg = tcfg.replace(epochs=int(low.get("epochs", max(1, settings.epochs // 4))),
                            train_subset=low.get("train_subset"))
        finetune = 0
    cfg = arch.model_config(data.input_size, data.num_classes).replace(timesteps=timesteps)
    x_val, y_val = split.x_test, split.y_test
    if settings.eval_samples:
        x_val, y_val = x_val[: settings.eval_samples], y_val[: settings.eval_samples]
    ckpt_path = out / "models" / f"{arch.key}-{fidelity}" / "model.pt"
    score = None
    if fidelity == "proxy":
        score = sahd_score(cfg, split.x_train, seed=settings.seed)
        torch.manual_seed(settings.seed)
        from spikeloom.snn.models import build_model  # noqa: PLC0415

        model = build_model(cfg).to(device or "cpu").eval()
    else:
        model = fit(cfg, tcfg, split, ckpt_path, progress=progress, device=device).checkpoint.build(device or "cpu")
    masks = prune_masks([fc.weight.detach().cpu() for fc in model.fcs], arch.sparsity, max_inputs(arch.library))
    x_tr, y_tr = split.x_train, split.y_train
    if tcfg.train_subset:
        x_tr, y_tr = x_tr[: tcfg.train_subset], y_tr[: tcfg.train_subset]
    if fidelity != "proxy":  # fine-tuning recovers from pruning; an unpruned network keeps its training
        model = finetune_masked(model, cfg, tcfg, x_tr, y_tr, masks, finetune if prunes_anything(masks) else 0)
    else:
        from spikeloom.search.nas.compress import apply_masks  # noqa: PLC0415

        apply_masks(model, masks)
    qmodel, qs = quantize_mixed(model, arch.bits)
    values: dict[str, float] = {}
    if fidelity != "proxy":
        values["accuracy"] = evaluate(qmodel, cfg, x_val, y_val, seed=settings.seed)
        if fidelity == "low":
            score = values["accuracy"]
    if "energy" in objectives:  # low fidelity runs fewer steps: scaled to the architecture's T
        energy = measure_energy(qmodel, cfg, x_val, settings.seed, settings.precision, synapses="nonzero")
        values["energy"] = energy.energy_pj_per_sample * arch.timesteps / timesteps
    if "reliability" in objectives and fidelity != "proxy":
        values["reliability"] = nas_reliability(qmodel, cfg, x_val, y_val, masks, arch, settings)
    hw_values, hw = hardware_objectives(arch, masks, qs, objectives, settings)
    values.update(hw_values)
    if fidelity == "full":
        export_compressed(ckpt_path.with_name("compressed.pt"), qmodel, masks, cfg, tcfg, arch, values)
    result = Evaluation(key=arch.key, fidelity=fidelity, architecture=arch.to_dict(), objectives=values,
                        seconds=time.perf_counter() - t0, score=score,
                        hardware=hw, checkpoint=str(ckpt_path) if fidelity != "proxy" else "")
    save_evaluation(out, fingerprint, result)
    return result


def save_evaluation(out: Path, fingerprint: dict[str, Any], ev: Evaluation) -> Path:
    """Cache `ev` under `out/evals` (what `cached` reads back)."""
    path = _cache_path(out, ev.arch, ev.fidelity)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_json(path, {"fingerprint": fingerprint, "evaluation": ev.to_dict()})
