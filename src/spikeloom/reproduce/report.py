"""The experiment's outputs: the paper's four figures as PNGs (same axes and groupings), a CSV
of every number, and a markdown table with the published figures beside ours."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from spikeloom.io import atomic_write_text, pyplot, save_png
from spikeloom.reproduce.paper import PUBLISHED


def _by(rows: list[dict[str, Any]], top: str, model: str) -> dict[str, Any] | None:
    return next((r for r in rows if r["topology"] == top and r["model"] == model), None)


def _order(rows: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    tops = list(dict.fromkeys(r["topology"] for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows))
    return tops, models


def energy_ratio(rows: list[dict[str, Any]], top: str, model: str) -> float:
    ann, snn = _by(rows, top, "ANN"), _by(rows, top, model)
    return ann["energy_pj"] / snn["energy_pj"] if ann and snn and snn["energy_pj"] > 0 else math.nan


def drop_ratios(rows: list[dict[str, Any]], min_drop: float = 0.01) -> list[tuple[str, str, float, float]]:
    """(topology, config, BER, ANN drop / SNN drop) where both drop at least `min_drop`
    (a smaller drop makes the ratio noise or infinite)."""
    out = []
    for r in rows:
        ann = _by(rows, r["topology"], "ANN")
        if r["arch"] != "snn" or ann is None:
            continue
        for m, a in zip(r["model_wise"], ann["model_wise"]):
            if a["accuracy_drop"] >= min_drop and m["accuracy_drop"] >= min_drop:
                out.append((r["topology"], r["model"], m["ber"], a["accuracy_drop"] / m["accuracy_drop"]))
    return out


def selected(rows: list[dict[str, Any]], top: str) -> dict[str, Any] | None:
    """The SNN config of `top` with the best int8 validation accuracy."""
    snns = [r for r in rows if r["topology"] == top and r["arch"] == "snn"]
    return max(snns, key=lambda r: r["val_accuracy_int8"]) if snns else None


def csv_text(rows_by_ds: dict[str, list[dict[str, Any]]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["dataset", "topology", "model", "metric", "ber", "layer", "value", "ci_low", "ci_high", "trials"])
    for ds, rows in rows_by_ds.items():
        for r in rows:
            base = [ds, r["topology"], r["model"]]
            for k in ("val_accuracy_int8", "test_accuracy_float", "test_accuracy_int8", "energy_pj",
                      "ops_per_sample", "train_seconds", "campaign_seconds"):
                w.writerow([*base, k, "", "", r[k], "", "", ""])
            if r["arch"] == "snn":
                w.writerow([*base, "energy_ratio_ann_over_snn", "", "", energy_ratio(rows, r["topology"], r["model"]),
                            "", "", ""])
            for m in r["model_wise"]:
                w.writerow([*base, "reliability_pct", m["ber"], "model", m["reliability_pct"],
                            100 * m["ci95"][0] / r["test_accuracy_int8"], 100 * m["ci95"][1] / r["test_accuracy_int8"],
                            m["trials"]])
                w.writerow([*base, "accuracy_drop", m["ber"], "model", m["accuracy_drop"], "", "", m["trials"]])
            for m in r["layer_wise"] or []:
                w.writerow([*base, "reliability_pct", m["ber"], m["scope"].split(":")[1], m["reliability_pct"],
                            100 * m["ci95"][0] / r["test_accuracy_int8"], 100 * m["ci95"][1] / r["test_accuracy_int8"],
                            m["trials"]])
    return buf.getvalue()


def table_text(rows_by_ds: dict[str, list[dict[str, Any]]]) -> str:
    """Markdown: the published figures beside ours, then every model's main figures."""
    lines = ["| dataset | figure | what | paper | ours |", "|---|---|---|---|---|"]
    for ds, rows in rows_by_ds.items():
        tops, _ = _order(rows)
        drops = drop_ratios(rows)
        ours: dict[tuple[str, str], str] = {}
        for top in tops:
            ratios = [(energy_ratio(rows, top, r["model"]), r["model"]) for r in rows
                      if r["topology"] == top and r["arch"] == "snn"]
            if ratios:
                best = max(ratios)
                ours[("energy ratio ANN/SNN", f"{top} (best config)")] = f"{best[0]:.2f}x ({best[1]})"
        for top in tops:
            snn, ann = _by(rows, top, "C2"), _by(rows, top, "ANN")
            if snn and ann and snn["layer_wise"] and ann["layer_wise"]:
                for s, a in zip(snn["layer_wise"], ann["layer_wise"]):
                    layer = s["scope"].split(":")[1]
                    ours[("layer-wise reliability % at BER 1e-2", f"{top} L{layer} SNN (C2)")] = f"{s['reliability_pct']:.2f}"
                    ours[("layer-wise reliability % at BER 1e-2", f"{top} L{layer} ANN")] = f"{a['reliability_pct']:.2f}"
        c2 = [(energy_ratio(rows, "TOP3", "C2"), "TOP3 C2")] if _by(rows, "TOP3", "C2") else []
        if c2:
            ours[("energy ratio ANN/SNN", "best: TOP3 C2")] = f"{c2[0][0]:.2f}x"
        if drops:
            t, c, b, v = max(drops, key=lambda d: d[3])
            ours[("ANN drop / SNN drop", "best over models and BERs")] = f"{v:.2f}x ({t} {c} BER {b:g})"
            t, c, b, v = min(drops, key=lambda d: d[3])
            ours[("ANN drop / SNN drop", "worst over models and BERs")] = f"{v:.2f}x ({t} {c} BER {b:g})"
        keys = [(f, w) for (d, f, w) in PUBLISHED if d == ds] + [k for k in ours if (ds, *k) not in PUBLISHED]
        for f, w in keys:
            paper = PUBLISHED.get((ds, f, w))
            lines.append(f"| {ds} | {f} | {w} | {'' if paper is None else paper} | {ours.get((f, w), 'not run')} |")
    lines += ["", "| dataset | topology | model | val int8 | test float | test int8 | "
              + " | ".join(f"rel. % @ {b:g}" for b in _bers(rows_by_ds)) + " | pJ/sample | selected |",
              "|---|---|---|---|---|---|" + "---|" * len(_bers(rows_by_ds)) + "---|---|"]
    for ds, rows in rows_by_ds.items():
        for r in rows:
            sel = selected(rows, r["topology"])
            rel = " | ".join(f"{m['reliability_pct']:.1f}" for m in r["model_wise"])
            lines.append(f"| {ds} | {r['topology']} | {r['model']} | {r['val_accuracy_int8']:.4f} | "
                         f"{r['test_accuracy_float']:.4f} | {r['test_accuracy_int8']:.4f} | {rel} | "
                         f"{r['energy_pj']:.0f} | {'yes' if sel is r else ''} |")
    return "\n".join(lines) + "\n"


def _bers(rows_by_ds: dict[str, list[dict[str, Any]]]) -> list[float]:
    for rows in rows_by_ds.values():
        for r in rows:
            return [m["ber"] for m in r["model_wise"]]
    return []


def _bars(ax: Any, tops: list[str], models: list[str], value: Any, ylabel: str) -> None:
    width = 0.8 / max(1, len(models))
    for i, m in enumerate(models):
        vals = [value(t, m) for t in tops]
        ax.bar([k + (i - (len(models) - 1) / 2) * width for k in range(len(tops))],
               [v if v is not None else 0.0 for v in vals], width, label=m)
    ax.set_xticks(range(len(tops)), tops)
    ax.set_ylabel(ylabel)


def write_figures(rows_by_ds: dict[str, list[dict[str, Any]]], out: Path) -> list[Path]:
    """fig2_accuracy.png, fig3_model_wise.png, fig4_layer_wise.png, fig5_energy.png per dataset
    (file names prefixed by the dataset)."""
    written = []

    def save(fig: Any, name: str) -> None:
        written.append(save_png(fig, out / name))

    for ds, rows in rows_by_ds.items():
        _dataset_figures(ds, rows, pyplot(), save)
    return written


def write_tables(rows_by_ds: dict[str, list[dict[str, Any]]], out: Path) -> None:
    atomic_write_text(out / "results.csv", csv_text(rows_by_ds))
    atomic_write_text(out / "table.md", table_text(rows_by_ds))


def _dataset_figures(ds: str, rows: list[dict[str, Any]], plt: Any, save: Any) -> None:
    tops, models = _order(rows)
    snn_models = [m for m in models if m != "ANN"]
    # Fig. 2: accuracy of each SNN next to its ANN
    fig, ax = plt.subplots(figsize=(7, 3.5))
    _bars(ax, tops, models, lambda t, m: (_by(rows, t, m) or {}).get("test_accuracy_int8", 0) * 100,
          "test accuracy, int8 (%)")
    ax.set_title(f"{ds}: accuracy (Fig. 2)")
    ax.legend(fontsize=7)
    save(fig, f"{ds}_fig2_accuracy.png")
    # Fig. 3: model-wise reliability per BER
    bers = [m["ber"] for m in rows[0]["model_wise"]]
    fig, axes = plt.subplots(1, len(bers), figsize=(4 * len(bers), 3.5), squeeze=False)
    for ax, k in zip(axes[0], range(len(bers))):
        _bars(ax, tops, models, lambda t, m, k=k: (_by(rows, t, m) or {"model_wise": [{}] * 9})["model_wise"][k]
              .get("reliability_pct", 0), "reliability (%)")
        ax.set_title(f"BER {bers[k]:g}")
    fig.legend(*axes[0][0].get_legend_handles_labels(), loc="upper right", ncol=len(models), fontsize=7)
    fig.suptitle(f"{ds}: model-wise reliability (Fig. 3)")
    save(fig, f"{ds}_fig3_model_wise.png")
    # Fig. 4: layer-wise reliability at the layer BER (C2 vs ANN)
    lw = [t for t in tops if _by(rows, t, "ANN") and (_by(rows, t, "ANN") or {}).get("layer_wise")]
    if lw:
        fig, axes = plt.subplots(1, len(lw), figsize=(4.5 * len(lw), 3.5), squeeze=False)
        for ax, t in zip(axes[0], lw):
            kinds = [m for m in models if (_by(rows, t, m) or {}).get("layer_wise")]
            layers = [s["scope"].replace("layer:", "L") for s in _by(rows, t, "ANN")["layer_wise"]]
            _bars(ax, layers, kinds, lambda layer, m, t=t: next(
                s["reliability_pct"] for s in _by(rows, t, m)["layer_wise"]
                if s["scope"] == layer.replace("L", "layer:")), "reliability (%)")
            ax.set_title(t)
        fig.legend(*axes[0][0].get_legend_handles_labels(), loc="upper right", ncol=2, fontsize=7)
        fig.suptitle(f"{ds}: layer-wise reliability at BER "
                     f"{_by(rows, lw[0], 'ANN')['layer_wise'][0]['ber']:g} (Fig. 4)")
        save(fig, f"{ds}_fig4_layer_wise.png")
    # Fig. 5: ANN/SNN energy ratio
    fig, ax = plt.subplots(figsize=(7, 3.5))
    _bars(ax, tops, snn_models, lambda t, m: energy_ratio(rows, t, m), "energy ANN / SNN (x)")
    ax.set_title(f"{ds}: energy ratio (Fig. 5)")
    ax.legend(fontsize=7)
    save(fig, f"{ds}_fig5_energy.png")
