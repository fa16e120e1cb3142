"""Figure of crossbar usage: one bar pair per crossbar (input and output fill), grouped by size."""

from __future__ import annotations

import os

from spikeloom.hw.result import MappingResult
from spikeloom.io import pyplot, save_png


def plot_usage(result: MappingResult, path: str | os.PathLike[str]) -> str:
    plt = pyplot()
    xbs = list(result.crossbars)
    ids = list(range(len(xbs)))
    fin = [len(x.axons) / x.inputs * 100 for x in xbs]
    fout = [len(x.neurons) / x.outputs * 100 for x in xbs]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.22 * len(xbs) + 2), 3.8))
    w = 0.4
    ax.bar([i - w / 2 for i in ids], fin, width=w, label="inputs (axons) used", color="#4c72b0")
    ax.bar([i + w / 2 for i in ids], fout, width=w, label="outputs (neurons) used", color="#dd8452")
    ax.set_xlabel("crossbar (label = size inputs x outputs)")
    ax.set_ylabel("fill (%)")
    ax.set_ylim(0, 110)
    step = max(1, len(xbs) // 40)
    ax.set_xticks(ids[::step])
    ax.set_xticklabels([xbs[i].type for i in ids[::step]], rotation=90, fontsize=7)
    ax.set_title(f"{result.network} on {result.library}: {result.crossbars_used} crossbars, "
                 f"area {result.area} (bound {result.lower_bound:g}, gap {result.gap:.1%})", fontsize=9)
    ax.legend(loc="lower right", fontsize=8)
    return str(save_png(fig, path))
