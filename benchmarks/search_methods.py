"""Conversion vs BPTT in one co-design search: which family gives more reliable SNNs?

    python benchmarks/search_methods.py --dataset digits --out runs/methods-digits
    python benchmarks/search_methods.py --dataset fashion-mnist --topology 784-32-10 \
        --train-subset 10000 --epochs 3 --out runs/methods-fmnist

One staged search (Algorithm 1, `--train-method bptt convert`) measures every grid point twice:
an SNN trained with BPTT (LIF, --beta) and the STEP 0 ANN converted to IF neurons (`conv-`),
all against the same ANN on the same validation samples and the same fault masks. Then, per
family, one SNN is picked **on validation** (the family's lowest-energy candidate of Algorithm
1; when it has none, its most accurate SNN on validation), and only those picks and the ANN
are measured on the test split: int-n accuracy with per-sample correctness, and a fault
campaign on test (same seed, so the same masks for all three). The families are compared on
test with `spikeloom.measure.compare` (McNemar on accuracy, paired t on per-trial reliability):
conversion minus BPTT, and each minus the ANN. Also reported: every grid point's paired
validation reliability comparison conv-vs-BPTT where both reached a campaign.
Everything is cached under --out (re-running resumes). The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

from spikeloom.data import load_dataset
from spikeloom.io import atomic_write_json
from spikeloom.measure import correct, reliability_at, trial_reliabilities, validation_split
from spikeloom.measure.compare import compare_accuracy, compare_paired
from spikeloom.search.candidates import Measurement, Measurer
from spikeloom.search.config import SearchConfig
from spikeloom.search.staged import report_test, staged_search


def pick(family: list[Measurement]) -> Measurement:
    """The family's choice on validation: lowest-energy candidate, else the most accurate."""
    passed = [m for m in family if m.stage in ("candidate", "selected")]
    if passed:
        return min(passed, key=lambda m: m.energy_pj)
    return max(family, key=lambda m: (m.accuracy, -m.energy_pj))


def on_test(measurer: Measurer, m: Measurement, data, scfg: SearchConfig) -> dict:
    """Test-split accuracy flags and the test campaign's per-trial reliabilities of `m`."""
    tested = measurer.report_test(m, data, campaign=True)
    _, qmodel = measurer._models(m.checkpoint)
    flags = correct(qmodel, m.config, data.x_test, data.y_test, scfg.seed).tolist()
    campaign = tested.test["campaign"]
    return {"name": m.name, "method": m.method, "stage": m.stage, "validation_accuracy": m.accuracy,
            "validation_reliability_pct": m.reliability_pct, "energy_pj": m.energy_pj,
            "test_accuracy": tested.test["accuracy"], "test_accuracy_fp": tested.test["accuracy_fp"],
            "test_reliability_pct": reliability_at(campaign, scfg.ber),
            "trials": trial_reliabilities(campaign, scfg.ber), "correct": flags}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="digits")
    p.add_argument("--topology", default=None, help="default inputs-32-classes")
    p.add_argument("--timesteps", type=int, nargs="+", default=[10, 30])
    p.add_argument("--thresholds", type=float, nargs="+", default=[0.5, 1.0, 1.5])
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--train-subset", type=int, default=None)
    p.add_argument("--trials", type=int, default=10)
    p.add_argument("--ber", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    args = p.parse_args()

    from pathlib import Path  # noqa: PLC0415

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_dataset(args.dataset)
    scfg = SearchConfig(dataset=data.name, topology=args.topology or f"{data.input_size}-32-{data.num_classes}",
                        timesteps=tuple(args.timesteps), thresholds=tuple(args.thresholds), epochs=args.epochs,
                        train_subset=args.train_subset, trials=args.trials, ber=args.ber, seed=args.seed,
                        train_methods=("bptt", "convert"))
    t0 = time.perf_counter()
    result = report_test(staged_search(scfg, data, out, log=print), data, out, log=print)
    measurer = Measurer(scfg, validation_split(data, scfg.val_fraction, scfg.seed), out, log=print)
    picks = {f: pick([m for m in result.configs if m.method == f]) for f in scfg.train_methods}
    ann = on_test(measurer, result.ann, data, scfg)
    fig = {f: on_test(measurer, m, data, scfg) for f, m in picks.items()}

    def versus(a: dict, b: dict) -> dict:
        return {"accuracy": compare_accuracy(a["correct"], b["correct"]).to_dict(),
                "reliability": compare_paired("reliability", a["trials"], b["trials"]).to_dict()}

    comparisons = {"convert_vs_bptt": versus(fig["convert"], fig["bptt"]),
                   "convert_vs_ann": versus(fig["convert"], ann), "bptt_vs_ann": versus(fig["bptt"], ann)}
    by_name = {m.name: m for m in result.configs}
    grid_pairs = {}
    for m in result.configs:
        twin = by_name.get(f"conv-{m.name}")
        if m.method == "bptt" and twin and m.campaign and twin.campaign:
            grid_pairs[m.name] = compare_paired("reliability", trial_reliabilities(twin.campaign, scfg.ber),
                                                trial_reliabilities(m.campaign, scfg.ber)).to_dict()
    rows = [{"name": m.name, "method": m.method, "stage": m.stage, "validation_accuracy": m.accuracy,
             "validation_reliability_pct": m.reliability_pct, "energy_pj": m.energy_pj,
             "test_accuracy": (m.test or {}).get("accuracy")} for m in result.configs]
    summary = {"benchmark": "search_methods", "search_config": scfg.to_dict(), "verdict": result.verdict,
               "best": result.best.name if result.best else None, "grid": rows,
               "ann": {k: v for k, v in ann.items() if k != "correct"},
               "picks": {f: {k: v for k, v in d.items() if k != "correct"} for f, d in fig.items()},
               "test_comparisons": comparisons, "validation_reliability_conv_minus_bptt": grid_pairs,
               "test_samples": len(data.y_test), "seconds": round(time.perf_counter() - t0, 1),
               "machine": platform.platform()}
    atomic_write_json(out / "methods.json", summary)
    for r in rows:
        print(f"{r['name']:>16} {r['method']:>8} {r['stage']:>12} val acc {r['validation_accuracy']:.4f} "
              f"rel {r['validation_reliability_pct']} energy {r['energy_pj']:.1f}")
    print(json.dumps({k: summary[k] for k in ("verdict", "best", "ann", "picks", "test_comparisons",
                                               "validation_reliability_conv_minus_bptt", "seconds")}))


if __name__ == "__main__":
    main()
