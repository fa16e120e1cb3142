"""The architecture-search section of the HTML report: Pareto plots, hypervolume curve and
proxy correlation scatter, drawn from a `summary.json` dictionary (matplotlib Agg, PNGs
written atomically)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spikeloom.report.figures import _plt, _save
from spikeloom.report.html import Section, esc, table

UNITS = {"accuracy": "accuracy (validation, %)", "energy": "energy (pJ / sample)",
         "reliability": "reliability at BER (%)", "latency": "latency (timesteps x layers)",
         "memory": "weight memory (bits)", "area": "crossbar area (cells)", "routes": "global routes"}


def _value(name: str, v: float) -> float:
    return 100.0 * v if name in ("accuracy",) else v


def pareto_plots(summary: dict[str, Any], out_dir: Path) -> list[tuple[str, Path]]:
    """Accuracy against every other objective: all evaluations (grey), the front (green)."""
    names = summary["objectives"]
    evals = summary["promoted"] or summary["trials"]
    front = summary["pareto"]
    figs = []
    for other in [n for n in names if n != "accuracy"]:
        plt = _plt()
        fig, ax = plt.subplots(figsize=(5, 3.6))
        xs = [_value(other, e["objectives"][other]) for e in evals if other in e["objectives"] and "accuracy" in e["objectives"]]
        ys = [_value("accuracy", e["objectives"]["accuracy"]) for e in evals if other in e["objectives"] and "accuracy" in e["objectives"]]
        ax.scatter(xs, ys, c="#9aa3b2", s=18, label="evaluated (full fidelity)")
        fx = [_value(other, p["objectives"][other]) for p in front]
        fy = [_value("accuracy", p["objectives"]["accuracy"]) for p in front]
        ax.scatter(fx, fy, c="#27ae60", s=34, edgecolors="k", label="Pareto front")
        ax.set_xlabel(UNITS.get(other, other))
        ax.set_ylabel(UNITS["accuracy"])
        if other in ("area", "memory", "energy") and xs and min(xs) > 0:
            ax.set_xscale("log")
        ax.legend(fontsize=8)
        ax.set_title(f"accuracy vs {other}")
        figs.append((f"Pareto front: accuracy vs {other}", _save(fig, out_dir / f"nas_pareto_{other}.png")))
    return figs


def hypervolume_plot(summary: dict[str, Any], out_dir: Path) -> tuple[str, Path] | None:
    curve = summary["hypervolume"].get("curve") or []
    if not curve:
        return None
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(8, 3.2))
    a1.plot([r["evaluations"] for r in curve], [r["hypervolume"] for r in curve], marker="o", ms=3)
    a1.set_xlabel("full-fidelity evaluations")
    a1.set_ylabel("normalised hypervolume")
    a2.plot([r["seconds"] for r in curve], [r["hypervolume"] for r in curve], marker="o", ms=3)
    a2.set_xlabel("wall time (s)")
    a2.set_ylabel("normalised hypervolume")
    return "Hypervolume against evaluations and time", _save(fig, out_dir / "nas_hypervolume.png")


def correlation_plot(summary: dict[str, Any], out_dir: Path) -> tuple[str, Path] | None:
    corr = summary.get("proxy_correlation")
    if not corr or not corr.get("pairs"):
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.6, 3.6))
    ax.scatter([p["cheap"] for p in corr["pairs"]], [100 * p["full_accuracy"] for p in corr["pairs"]], s=22)
    ax.set_xlabel(f"cheap score ({corr['evaluator']})")
    ax.set_ylabel("full-fidelity accuracy (%)")
    tau = corr.get("kendall_tau")
    ax.set_title(f"n={corr['n']}, Kendall tau={'n/a' if tau is None else f'{tau:.2f}'}")
    return "Cheap evaluator against fully trained accuracy", _save(fig, out_dir / "nas_proxy_correlation.png")


def nas_section(summary: dict[str, Any], out_dir: str | Path) -> Section:
    """The report section of one `spikeloom nas` run (figures written into `out_dir`)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = summary["objectives"]
    rows = [[p["label"], *[p["objectives"].get(n) for n in names], p.get("test_accuracy")]
            for p in summary["pareto"]]
    hv = summary["hypervolume"].get("value")
    corr = summary.get("proxy_correlation")
    text = (f"<p>{esc(summary['strategy'])} search, fidelity {esc(summary['fidelity'])}, "
            f"{esc(summary['n_trials'])} trials, seed {esc(summary['seed'])}; normalised hypervolume "
            f"{esc('n/a' if hv is None else f'{hv:.4f}')}.</p>")
    if corr:
        text += (f"<p>Cheap evaluator ({esc(corr['evaluator'])}) vs full accuracy: Kendall tau "
                 f"{esc(corr['kendall_tau'])}, Spearman {esc(corr['spearman'])}, n = {esc(corr['n'])}.</p>")
    figs = pareto_plots(summary, out)
    for extra in (hypervolume_plot(summary, out), correlation_plot(summary, out)):
        if extra:
            figs.append(extra)
    return Section("Architecture search", text + table(["architecture", *names, "test accuracy"], rows),
                   tuple(figs), anchor="nas")
