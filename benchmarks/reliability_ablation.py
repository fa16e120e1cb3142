"""Why is an SNN here more or less reliable than its ANN? One factor at a time, everything
else fixed, the same paired fault masks (one fault seed: trial k of every campaign draws the
same cells), on one topology of one dataset.

For each variant: the SNN-vs-ANN reliability difference (pp, paired over trials, 95% CI,
`spikeloom.measure.compare_paired`) and its change from the base setting (paired again over
the same trials). Levers (clamp, msb-parity, msb-ecc, fault-aware training): each model's
reliability gain over its unmitigated campaign, paired, with the lever's cost.

Models train on the training split less a validation part (`validation_split`); campaigns run
on the first --samples test samples. Everything is cached under --out (models resume by epoch,
campaigns by trial), so a killed run continues. Last line: one JSON object with every figure.

    python benchmarks/reliability_ablation.py --dataset fashion-mnist \
        --data-dir /usr/share/datasets/fashion-mnist --topology 784-128-64-10 --epochs 2 \
        --train-subset 5000 --samples 500 --trials 20 --ber 1e-2 --out runs/ablation-top2
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import time
from pathlib import Path

from spikeloom.data import load_dataset
from spikeloom.energy.tables import default_table
from spikeloom.faults import CampaignConfig
from spikeloom.measure import (
    compare_paired,
    measure_reliability,
    trial_reliabilities,
    validation_split,
)
from spikeloom.measure.levers import lever_cost
from spikeloom.spec import TRAIN_LOSSES, ModelConfig, TrainConfig
from spikeloom.train import fit

# factor, level, SNN model changes, ANN model changes (None: both as base), train changes, campaign changes


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def variants(bits: int) -> list[tuple[str, str, dict, dict | None, dict, dict]]:
    lsb = tuple(range(bits - 2))
    return [
        ("scales", "per-channel", {}, {}, {}, {"per_channel": True}),
        ("bits hit", "sign only", {}, {}, {}, {"hit_bits": (bits - 1,)}),
        ("bits hit", "MSB only", {}, {}, {}, {"hit_bits": (bits - 2,)}),
        ("bits hit", f"LSBs 0..{bits - 3}", {}, {}, {}, {"hit_bits": lsb}),
        ("readout", "membrane", {"readout": "membrane"}, None, {}, {}),
        ("threshold", "0.5", {"threshold": 0.5}, None, {}, {}),
        ("T", "30", {"timesteps": 30}, None, {}, {}),
        ("training length", "x3 epochs", {}, {}, {"epochs": 3}, {}),
        ("reset", "zero", {"reset": "zero"}, None, {}, {}),
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--topology", default="784-128-64-10")
    p.add_argument("--timesteps", type=int, default=10)
    p.add_argument("--threshold", type=float, default=1.5)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--train-subset", type=int, default=5000)
    p.add_argument("--samples", type=int, default=500)
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--ber", type=float, default=1e-2)
    p.add_argument("--bits", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--loss", choices=TRAIN_LOSSES, default="readout",
                   help="the SNNs' training loss (TrainConfig.loss; membrane for deep SNNs)")
    p.add_argument("--only", nargs="*", default=None, help="factors to run (default all), e.g. 'bits hit' levers")
    p.add_argument("--out", default="runs/reliability-ablation")
    args = p.parse_args()
    out = Path(args.out)
    started = time.perf_counter()
    data = load_dataset(args.dataset, args.data_dir)
    selection = validation_split(data, 0.1, args.seed)
    x, y = data.x_test[: args.samples], data.y_test[: args.samples]
    snn0 = ModelConfig(topology=args.topology, timesteps=args.timesteps, threshold=args.threshold)
    ann0 = snn0.replace(arch="ann")
    t0 = TrainConfig(dataset=data.name, epochs=args.epochs, batch_size=128, lr=2e-3, seed=args.seed,
                     train_subset=args.train_subset)
    cc0 = CampaignConfig(bers=(args.ber,), trials=args.trials, bits=args.bits, seed=args.seed)
    (out / "campaigns").mkdir(parents=True, exist_ok=True)
    models: dict[str, tuple] = {}

    def model(cfg: ModelConfig, tcfg: TrainConfig):
        if cfg.arch == "snn":
            tcfg = tcfg.replace(loss=args.loss)
        key = json.dumps([cfg.to_dict(), tcfg.to_dict()], sort_keys=True)
        if key not in models:
            name = f"{cfg.arch}-{digest(key)}"
            ckpt = fit(cfg, tcfg, selection, out / "models" / name / "model.pt").checkpoint
            models[key] = (ckpt.build(), cfg, name)
            print(f"  trained {name}: {cfg.name} {tcfg.epochs} epochs", flush=True)
        return models[key]

    def campaign(cfg: ModelConfig, tcfg: TrainConfig, cc: CampaignConfig) -> dict:
        m, c, name = model(cfg, tcfg)
        tag = json.dumps(cc.to_dict(), sort_keys=True)
        res = measure_reliability(m, c, x, y, cc, eval_seed=args.seed,
                                  store_path=out / "campaigns" / f"{name}-{digest(tag)}.jsonl")
        return res.to_dict()

    def rel(camp: dict) -> list[float]:
        return trial_reliabilities(camp, args.ber)

    def pp(c) -> dict:
        return {"diff_pp": c.diff, "ci95": list(c.ci), "verdict": c.verdict, "p": c.p_value}

    base_s, base_a = campaign(snn0, t0, cc0), campaign(ann0, t0, cc0)
    base_diff = [s - a for s, a in zip(rel(base_s), rel(base_a))]
    rows = [{"factor": "base", "level": f"T={args.timesteps} theta={args.threshold} count subtract per-tensor all bits",
             "snn_clean": base_s["clean_accuracy"], "ann_clean": base_a["clean_accuracy"],
             "snn_rel": sum(rel(base_s)) / args.trials, "ann_rel": sum(rel(base_a)) / args.trials,
             "snn_minus_ann": pp(compare_paired("reliability", rel(base_s), rel(base_a))), "change": None}]
    print(json.dumps(rows[-1]), flush=True)
    for factor, level, ds, da, dt, dc in variants(args.bits):
        if args.only and factor not in args.only:
            continue
        tcfg = t0.replace(epochs=t0.epochs * dt["epochs"]) if dt else t0
        cc = cc0.replace(**dc)
        s = campaign(snn0.replace(**ds), tcfg, cc)
        a = campaign(ann0.replace(**(da or {})), tcfg if da is not None else t0, cc)
        diff = [u - v for u, v in zip(rel(s), rel(a))]
        rows.append({"factor": factor, "level": level, "snn_clean": s["clean_accuracy"],
                     "ann_clean": a["clean_accuracy"], "snn_rel": sum(rel(s)) / args.trials,
                     "ann_rel": sum(rel(a)) / args.trials,
                     "snn_minus_ann": pp(compare_paired("reliability", rel(s), rel(a))),
                     "change": pp(compare_paired("change", diff, base_diff))})
        print(json.dumps(rows[-1]), flush=True)
    levers = []
    if not args.only or "levers" in args.only:
        table = default_table("int")
        for lever in ("clamp", "msb-parity", "msb-ecc", "fault-aware"):
            for cfg, base in ((snn0, base_s), (ann0, base_a)):
                if lever == "fault-aware":
                    mit = campaign(cfg, t0.replace(fault_aware_ber=args.ber), cc0)
                    cost = {"extra_bits_per_weight": 0, "extra_pj_per_read": 0.0, "note": "training only"}
                else:
                    cc = cc0.replace(mitigation=lever)
                    mit = campaign(cfg, t0, cc)
                    cost = lever_cost(cfg, cc, table)
                c = compare_paired("gain", rel(mit), rel(base))
                levers.append({"lever": lever, "arch": cfg.arch, "clean": mit["clean_accuracy"],
                               "reliability": sum(rel(mit)) / args.trials, "gain": pp(c),
                               "extra_bits_per_weight": cost["extra_bits_per_weight"],
                               "extra_pj_per_read": cost["extra_pj_per_read"],
                               "gain_pp_per_bit": c.diff / cost["extra_bits_per_weight"]
                               if cost["extra_bits_per_weight"] else None})
                print(json.dumps(levers[-1]), flush=True)
    print(json.dumps({"benchmark": "reliability_ablation", "dataset": data.name, "topology": args.topology,
                      "ber": args.ber, "trials": args.trials, "samples": args.samples, "epochs": args.epochs,
                      "train_subset": args.train_subset, "seed": args.seed, "snn_loss": args.loss, "rows": rows, "levers": levers,
                      "seconds": time.perf_counter() - started,
                      "machine": f"{platform.machine()} {platform.processor() or ''}".strip()}))


if __name__ == "__main__":
    main()
