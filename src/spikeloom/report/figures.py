"""Figures of a co-design search, drawn from its summary dictionary (matplotlib, Agg).

Each function takes the `summary.json` content of `spikeloom search`/`run` and writes one
PNG atomically, returning its path (or None when the data for it is absent).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from spikeloom.io import pyplot, save_png

STAGE_COLOURS = {"accuracy": "#c0c6d0", "reliability": "#f0b37e", "energy": "#f7dc6f",
                 "candidate": "#7fb3d5", "selected": "#27ae60", "": "#7fb3d5"}
ANN_COLOUR, SNN_COLOUR = "#34495e", "#27ae60"


def _plt():
    return pyplot()


def _save(fig: Any, path: Path) -> Path:
    return save_png(fig, path)


def _half_width(row: dict[str, Any]) -> float:
    ci = row.get("ci95")
    if ci is None:
        return 0.0
    if isinstance(ci, (list, tuple)):
        return (ci[1] - ci[0]) / 2
    return float(ci)


def chosen_snn(summary: dict[str, Any]) -> dict[str, Any] | None:
    """The selected SNN, or (on FAIL) the most accurate one, for side-by-side figures."""
    if summary.get("best"):
        return summary["best"]
    configs = summary.get("configs") or []
    return max(configs, key=lambda c: c["accuracy"]) if configs else None


def accuracy_bars(summary: dict[str, Any], path: Path) -> Path | None:
    configs = summary.get("configs") or []
    if not configs:
        return None
    plt = _plt()
    ann = summary["ann"]
    names = ["ANN", *[c["name"] for c in configs]]
    values = [ann["accuracy"] * 100, *[c["accuracy"] * 100 for c in configs]]
    colours = [ANN_COLOUR, *[STAGE_COLOURS.get(c["stage"], "#7fb3d5") for c in configs]]
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(names) + 2), 3.6))
    bars = ax.bar(names, values, color=colours, edgecolor="#2c3e50", linewidth=0.5)
    ax.axhline(ann["accuracy"] * 100, color=ANN_COLOUR, linestyle="--", linewidth=1, label="ANN accuracy")
    for bar, v in zip(bars, values):
        ax.text(bar.get_x() + bar.get_width() / 2, v + 0.3, f"{v:.1f}", ha="center", fontsize=8)
    lo = min(values)
    ax.set_ylim(max(0.0, lo - 10), 100.5)
    ax.set_ylabel("test accuracy after int quantization (%)")
    ax.set_xlabel("model (SNN: timesteps T, threshold theta)")
    ax.set_title("Accuracy: ANN vs each SNN configuration")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in (ANN_COLOUR, *STAGE_COLOURS.values())][:6]
    labels = ["ANN", "stopped: accuracy", "stopped: reliability", "stopped: energy", "candidate", "selected"]
    ax.legend(handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    return _save(fig, path)


def _curve(campaign: dict[str, Any], scope: str = "model") -> list[tuple[float, float, float]]:
    rows = sorted((r for r in campaign["results"] if r["scope"] == scope), key=lambda r: r["ber"])
    return [(r["ber"], r["mean_accuracy"] * 100, _half_width(r) * 100) for r in rows]


def ber_curves(summary: dict[str, Any], path: Path) -> Path | None:
    campaigns = summary.get("campaigns") or {}
    curves = {name: _curve(c) for name, c in campaigns.items() if c}
    curves = {k: v for k, v in curves.items() if len(v) >= 2}
    if not curves:
        return None
    plt = _plt()
    best = (summary.get("best") or {}).get("name")
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for name, pts in curves.items():
        bers, acc, hw = zip(*pts)
        style = {"color": ANN_COLOUR, "linewidth": 2.2} if name == "ann" else (
            {"color": SNN_COLOUR, "linewidth": 2.2} if name == best else {"linewidth": 1, "alpha": 0.7})
        ax.errorbar(bers, acc, yerr=hw, marker="o", markersize=4, capsize=3,
                    label="ANN" if name == "ann" else f"SNN {name}" + (" (selected)" if name == best else ""),
                    **style)
    ax.set_xscale("log")
    ax.set_xlabel("bit error rate (per weight bit)")
    ax.set_ylabel("mean accuracy under faults (%)")
    ax.set_title("Model-wise bit flips: accuracy vs BER (95 % CI)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def layer_reliability(summary: dict[str, Any], path: Path) -> Path | None:
    campaigns = summary.get("campaigns") or {}
    ber = summary.get("search_config", {}).get("ber")
    snn = chosen_snn(summary)
    names = ["ann"] + ([snn["name"]] if snn and snn["name"] in campaigns else [])
    series = {}
    for name in names:
        rows = [r for r in (campaigns.get(name) or {}).get("results", [])
                if r["scope"].startswith("layer:") and ber is not None and abs(r["ber"] - ber) < 1e-12]
        if rows:
            series[name] = {int(r["scope"].split(":")[1]): r["reliability_pct"] for r in rows}
    if not series:
        return None
    plt = _plt()
    layers = sorted({k for s in series.values() for k in s})
    fig, ax = plt.subplots(figsize=(max(5.0, 1.4 * len(layers) + 2), 3.6))
    width = 0.8 / len(series)
    for i, (name, values) in enumerate(series.items()):
        xs = [layer + (i - (len(series) - 1) / 2) * width for layer in layers]
        ax.bar(xs, [values.get(layer, 0.0) for layer in layers], width=width,
               color=ANN_COLOUR if name == "ann" else SNN_COLOUR,
               label="ANN" if name == "ann" else f"SNN {name}")
    ax.set_xticks(layers)
    ax.set_xticklabels([f"L{layer}" for layer in layers])
    ax.set_xlabel("faulty layer (bit flips in this layer's weights only)")
    ax.set_ylabel("reliability (% of fault-free accuracy)")
    ax.set_title(f"Layer-wise reliability at BER {ber:g}")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8)
    return _save(fig, path)


def side_by_side(summary: dict[str, Any], path: Path) -> Path | None:
    snn = chosen_snn(summary)
    if snn is None:
        return None
    plt = _plt()
    ann = summary["ann"]
    label = f"SNN {snn['name']}"
    panels = [("accuracy (%)", ann["accuracy"] * 100, snn["accuracy"] * 100),
              ("reliability at search BER (%)", ann.get("reliability_pct"), snn.get("reliability_pct")),
              ("energy per sample (pJ)", ann["energy_pj"], snn["energy_pj"])]
    fig, axes = plt.subplots(1, 3, figsize=(9.5, 3.2))
    for ax, (title, a, s) in zip(axes, panels):
        values = [a or 0.0, s or 0.0]
        bars = ax.bar(["ANN", label], values, color=[ANN_COLOUR, SNN_COLOUR])
        for bar, v, raw in zip(bars, values, (a, s)):
            ax.text(bar.get_x() + bar.get_width() / 2, v, "n/a" if raw is None else f"{v:.4g}",
                    ha="center", va="bottom", fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(title)
        ax.tick_params(axis="x", labelsize=8)
    if ann["energy_pj"] and snn["energy_pj"]:
        axes[2].set_xlabel(f"ANN/SNN energy ratio {ann['energy_pj'] / snn['energy_pj']:.2f}x", fontsize=9)
    fig.suptitle("ANN vs chosen SNN", fontsize=11)
    return _save(fig, path)


def pareto_plot(summary: dict[str, Any], path: Path) -> Path | None:
    configs = summary.get("configs") or []
    if not configs:
        return None
    plt = _plt()
    ann = summary["ann"]
    front = set(summary.get("pareto") or [])
    rows = [{**ann, "name": "ann"}, *configs]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    xs = [r["energy_pj"] for r in rows]
    ys = [r["reliability_pct"] if r.get("reliability_pct") is not None else 0.0 for r in rows]
    cs = [r["accuracy"] * 100 for r in rows]
    sc = ax.scatter(xs, ys, c=cs, cmap="viridis", s=60, edgecolors="k", linewidths=0.5, zorder=3)
    fig.colorbar(sc, ax=ax, label="accuracy (%)")
    on_front = sorted((r for r in rows if r["name"] in front), key=lambda r: r["energy_pj"])
    if on_front:
        ax.scatter([r["energy_pj"] for r in on_front],
                   [r["reliability_pct"] or 0.0 for r in on_front], s=170, facecolors="none",
                   edgecolors="#c0392b", linewidths=1.5, label="Pareto front (acc, rel, energy)", zorder=4)
    for r, x, y in zip(rows, xs, ys):
        ax.annotate("ANN" if r["name"] == "ann" else r["name"], (x, y), fontsize=7,
                    xytext=(4, 4), textcoords="offset points")
    if any(x > 0 for x in xs):
        from matplotlib.ticker import NullFormatter  # noqa: PLC0415

        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.margins(x=0.15, y=0.1)
    ax.set_xlabel("energy per sample (pJ, log scale)")
    ax.set_ylabel("reliability at search BER (%; 0 = not measured)")
    ax.set_title("Trade-off: reliability vs energy, coloured by accuracy")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return _save(fig, path)


SEARCH_FIGURES: dict[str, tuple[str, Callable[[dict[str, Any], Path], Path | None]]] = {
    "accuracy": ("Accuracy of the ANN and each SNN configuration", accuracy_bars),
    "ber_curves": ("Accuracy vs bit error rate, model-wise", ber_curves),
    "layerwise": ("Layer-wise reliability", layer_reliability),
    "side_by_side": ("ANN vs chosen SNN: accuracy, reliability, energy", side_by_side),
    "pareto": ("Pareto front over accuracy, reliability and energy", pareto_plot),
}


def search_figures(summary: dict[str, Any], folder: Path) -> dict[str, tuple[str, Path]]:
    """Draw every search figure the summary has data for: key -> (caption, PNG path)."""
    folder.mkdir(parents=True, exist_ok=True)
    drawn = {}
    for key, (caption, draw) in SEARCH_FIGURES.items():
        path = draw(summary, folder / f"{key}.png")
        if path is not None:
            drawn[key] = (caption, path)
    return drawn
