"""Plan and run of the paper's experiment. Every model's figures are cached in
`out/<dataset>/<topology>/<model>/row.json`; training resumes from its per-epoch checkpoint
and campaigns from their trial stores, so a killed run continues where it stopped.

Protocol: each model trains on the training split less a stratified validation part
(`measure.validation_split`); the int8 validation accuracy selects the best SNN config per
topology; every reported figure is on the test split (its first `samples` samples). One fault
seed for all models of a dataset: the ANN and every SNN of a topology see the same masks.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spikeloom.io import atomic_write_json
from spikeloom.reproduce.paper import CONFIGS, TOPOLOGIES
from spikeloom.spec import Spec

BERS = (1e-4, 1e-3, 1e-2, 1e-1)


@dataclass(frozen=True)
class Plan(Spec):
    """What to run. topologies: name -> hidden and output sizes (the input is the dataset's);
    configs: name -> (T, theta); layer_configs: models that also get the layer-wise campaign
    at `layer_ber` (the paper's Fig. 4 shows C2 and the ANN); samples: test samples the
    campaigns and energy read (None: all). The default budget (2 epochs on 20,000 training
    images, 10 trials on 1,000 test images) is sized for a 2-core machine; PAPER_BUDGET is the
    paper's (`paper_plan`, tens of hours there). snn_loss: the SNNs' training loss
    (`TrainConfig.loss`): 'membrane' trains the count-readout SNNs on their output membrane,
    without which TOP3/TOP4 stay at chance (benchmarks/deep_snn.py, chosen on validation)."""

    datasets: tuple[str, ...] = ("fashion-mnist",)
    topologies: tuple[tuple[str, tuple[int, ...]], ...] = tuple((k, v[1:]) for k, v in TOPOLOGIES.items())
    configs: tuple[tuple[str, tuple[int, float]], ...] = tuple(CONFIGS.items())
    epochs: int = 2
    batch_size: int = 128
    lr: float = 2e-3
    snn_loss: str = "membrane"
    train_subset: int | None = 20_000
    trials: int = 10
    samples: int | None = 1000
    bers: tuple[float, ...] = BERS
    layer_ber: float = 1e-2
    layer_configs: tuple[str, ...] = ("C2", "ANN")
    bits: int = 8
    engine: str = "auto"
    seed: int = 0
    val_fraction: float = 0.1


# the paper's budget: 10 epochs on the whole training split, 20 trials on 2,000 test images
PAPER_BUDGET: dict[str, Any] = {"epochs": 10, "train_subset": None, "trials": 20, "samples": 2000}


def full_plan(datasets: tuple[str, ...], **changes: Any) -> Plan:
    """All five topologies x C1..C4 + ANN on `datasets`, at the default budget."""
    return Plan(datasets=datasets).replace(**changes)


def paper_plan(datasets: tuple[str, ...], **changes: Any) -> Plan:
    """`full_plan` at the paper's budget (PAPER_BUDGET)."""
    return full_plan(datasets, **{**PAPER_BUDGET, **changes})


def quick_plan(**changes: Any) -> Plan:
    """CI-sized: digits, two tiny topologies (2 and 3 layers), T scaled down to 4 / 8,
    one epoch on 800 samples, 2 trials on 120 test samples."""
    return Plan(datasets=("digits",), topologies=(("Q0", (16, 10)), ("Q1", (24, 16, 10))),
                configs=(("C1", (4, 0.5)), ("C2", (4, 1.5)), ("C3", (8, 0.5)), ("C4", (8, 1.5))),
                epochs=1, batch_size=32, lr=1e-2, train_subset=800, trials=2, samples=120,
                engine="reference").replace(**changes)


def _models(plan: Plan) -> list[tuple[str, tuple[int, float] | None]]:
    return [*plan.configs, ("ANN", None)]


def measure_model(plan: Plan, data: Any, selection: Any, top: str, hidden: tuple[int, ...],
                  name: str, tq: tuple[int, float] | None, where: Path,
                  log: Callable[[str], None]) -> dict[str, Any]:
    """Train (or resume) one model and measure it; cached in `where/row.json`."""
    from spikeloom.faults import CampaignConfig  # noqa: PLC0415
    from spikeloom.measure import evaluate, measure_energy, measure_reliability  # noqa: PLC0415
    from spikeloom.quant import apply_quantized, quantize_model  # noqa: PLC0415
    from spikeloom.spec import ModelConfig, TrainConfig  # noqa: PLC0415
    from spikeloom.train import fit  # noqa: PLC0415

    cfg = ModelConfig(arch="ann" if tq is None else "snn", topology=(data.input_size, *hidden),
                      **({} if tq is None else {"timesteps": tq[0], "threshold": tq[1]}))
    tcfg = TrainConfig(dataset=data.name, epochs=plan.epochs, batch_size=plan.batch_size, lr=plan.lr,
                       seed=plan.seed, train_subset=plan.train_subset,
                       loss="readout" if tq is None else plan.snn_loss)
    key = {"model": cfg.to_dict(), "train": tcfg.to_dict(),
           "plan": plan.replace(datasets=(), topologies=(), configs=()).to_dict()}
    cached = where / "row.json"
    if cached.exists():
        row = json.loads(cached.read_text())
        if row.get("key") == key:
            return row
    t0 = time.perf_counter()
    ckpt = fit(cfg, tcfg, selection, where / "model.pt", log=log).checkpoint
    train_s = time.perf_counter() - t0
    model = ckpt.build()
    qmodel = apply_quantized(model, quantize_model(model, plan.bits))
    val_q = evaluate(qmodel, cfg, selection.x_test, selection.y_test, seed=plan.seed)
    n = plan.samples or len(data.y_test)
    x, y = data.x_test[:n], data.y_test[:n]
    t1 = time.perf_counter()
    cc = CampaignConfig(bers=plan.bers, trials=plan.trials, scope="model", bits=plan.bits,
                        seed=plan.seed, engine=plan.engine)
    mw = measure_reliability(model, cfg, x, y, cc, eval_seed=plan.seed, store_path=where / "trials-model.jsonl")
    lw = None
    if name in plan.layer_configs:
        lw = measure_reliability(model, cfg, x, y, cc.replace(bers=(plan.layer_ber,), scope="layer"),
                                 eval_seed=plan.seed, store_path=where / "trials-layer.jsonl")
    campaign_s = time.perf_counter() - t1
    energy = measure_energy(qmodel, cfg, x, seed=plan.seed, precision="int")
    row = {"key": key, "topology": top, "model": name, "arch": cfg.arch,
           "layers": len(hidden), "sizes": list(cfg.topology),
           "timesteps": cfg.timesteps if tq else None, "threshold": cfg.threshold if tq else None,
           "val_accuracy_int8": val_q, "test_accuracy_float": mw.float_accuracy,
           "test_accuracy_int8": mw.clean_accuracy, "test_samples": n,
           "model_wise": [r.to_dict() for r in mw.results],
           "layer_wise": None if lw is None else [r.to_dict() for r in lw.results],
           "energy_pj": energy.energy_pj_per_sample, "ops_per_sample": energy.ops_per_sample,
           "train_seconds": train_s, "campaign_seconds": campaign_s, "engine": mw.engine,
           "epochs": plan.epochs, "train_samples": min(plan.train_subset or len(selection.y_train),
                                                         len(selection.y_train)),
           "trials": plan.trials}
    atomic_write_json(cached, row)
    log(f"{data.name} {top} {name}: int8 test {mw.clean_accuracy:.4f}, "
        f"reliability@1e-2 {next((r.reliability_pct for r in mw.results if r.ber == 1e-2), float('nan')):.1f}%, "
        f"{energy.energy_pj_per_sample:.0f} pJ ({train_s:.0f} s train, {campaign_s:.0f} s faults)")
    return row


def run_plan(plan: Plan, out: Path, data_dir: str | None = None,
             log: Callable[[str], None] = lambda _s: None) -> dict[str, list[dict[str, Any]]]:
    """Every model of the plan on every dataset: {dataset: [row, ...]} (rows as `measure_model`)."""
    from spikeloom.data import load_dataset  # noqa: PLC0415
    from spikeloom.measure import validation_split  # noqa: PLC0415

    rows: dict[str, list[dict[str, Any]]] = {}
    for ds in plan.datasets:
        data = load_dataset(ds, data_dir)
        selection = validation_split(data, plan.val_fraction, plan.seed)
        rows[data.name] = [measure_model(plan, data, selection, top, tuple(hidden), name, tq,
                                         out / data.name / top / name, log)
                           for top, hidden in plan.topologies for name, tq in _models(plan)]
    return rows


def estimate_seconds(rows: list[dict[str, Any]], plan: Plan, input_size: int,
                     train_samples: int) -> dict[str, float]:
    """Wall time of `plan` on one dataset from measured rows (same machine): training costs
    seconds per (synapse x step x epoch x training sample), campaigns seconds per (synapse x
    step x trial x rate x test sample, layer-wise scopes counted as one more sweep each),
    fitted separately for SNN and ANN rows; T = 1 for the ANN."""
    def syn(sizes: Any) -> float:
        return float(sum(a * b for a, b in zip(sizes, sizes[1:])))

    def train_work(r_sizes: Any, t: Any, epochs: int, n: int) -> float:
        return syn(r_sizes) * (t or 1) * epochs * n

    def fault_work(r_sizes: Any, t: Any, trials: int, bers: int, samples: int, layer_sweeps: int) -> float:
        return syn(r_sizes) * (t or 1) * trials * samples * (bers + layer_sweeps)

    rate: dict[str, tuple[float, float] | None] = {}
    for arch in ("snn", "ann"):
        rs = [r for r in rows if r["arch"] == arch]
        if not rs:
            rate[arch] = None
            continue
        tw = sum(train_work(r["sizes"], r["timesteps"], r["epochs"], r["train_samples"]) for r in rs)
        fw = sum(fault_work(r["sizes"], r["timesteps"], r["trials"], len(r["model_wise"]), r["test_samples"],
                            len(r["layer_wise"] or [])) for r in rs)
        rate[arch] = (sum(r["train_seconds"] for r in rs) / tw, sum(r["campaign_seconds"] for r in rs) / fw)
    n_train = plan.train_subset or train_samples
    total = 0.0
    for _top, hidden in plan.topologies:
        sizes = (input_size, *hidden)
        for name, tq in _models(plan):
            r = rate["ann" if tq is None else "snn"]
            if r is None:
                continue
            t = tq[0] if tq else None
            sweeps = len(hidden) if name in plan.layer_configs else 0
            total += r[0] * train_work(sizes, t, plan.epochs, n_train)
            total += r[1] * fault_work(sizes, t, plan.trials, len(plan.bers), plan.samples or 10000, sweeps)
    return {"estimated_seconds": total, "models": len(plan.topologies) * len(_models(plan))}
