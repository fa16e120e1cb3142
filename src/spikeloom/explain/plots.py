"""Figures of the explanations (matplotlib, Agg backend, imported only when drawing).

Every function takes plain data, writes one PNG atomically and returns its path. Axes carry
labels with units, colour scales carry colorbars, several series carry a legend.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from spikeloom.io import pyplot, save_png

DPI = 110


def _plt():
    return pyplot()


def _save(fig, path: Path, tight: bool = True) -> Path:
    return save_png(fig, path, DPI, tight)


def _steps_axis(ax) -> None:
    """Timestep axes show whole steps."""
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("timestep")


def _image(values: np.ndarray) -> np.ndarray:
    """[D] -> a square image when D is a square, else one row."""
    side = math.isqrt(values.size)
    return values.reshape(side, side) if side * side == values.size else values.reshape(1, -1)


def _class_colors(num_classes: int):
    plt = _plt()
    cmap = plt.get_cmap("tab10" if num_classes <= 10 else "tab20")
    return [cmap(i % cmap.N) for i in range(num_classes)]


def raster_figure(trains: Sequence[np.ndarray], names: Sequence[str], title: str,
                  path: Path) -> Path:
    """One scatter panel per layer: spike trains [T, N] of one sample."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(trains), figsize=(3.2 * len(trains), 3.6), squeeze=False)
    for ax, train, name in zip(axes[0], trains, names):
        t, n = np.nonzero(train)
        ax.scatter(t, n, s=4 if train.shape[1] > 100 else 9, marker="|", color="black",
                   linewidths=0.8)
        ax.set_xlim(-0.5, train.shape[0] - 0.5)
        ax.set_ylim(-0.5, train.shape[1] - 0.5)
        _steps_axis(ax)
        ax.set_ylabel("neuron index")
        rate = train.sum() / max(1, train.size)
        ax.set_title(f"{name}\n{int(train.sum())} spikes ({rate:.2f} /neuron/step)", fontsize=9)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def psth_figure(histograms: Mapping[str, np.ndarray], class_names: Sequence[str],
                samples: int, path: Path) -> Path:
    """One panel per layer, one line per class: mean spikes per neuron per timestep."""
    plt = _plt()
    colors = _class_colors(len(class_names))
    fig, axes = plt.subplots(1, len(histograms), figsize=(3.6 * len(histograms), 3.4), squeeze=False)
    for ax, (name, hist) in zip(axes[0], histograms.items()):
        for c, row in enumerate(hist):
            if np.all(np.isnan(row)):
                continue
            ax.plot(np.arange(len(row)), row, color=colors[c], lw=1.2, label=class_names[c])
        _steps_axis(ax)
        ax.set_ylabel("firing rate (spikes / neuron / timestep)")
        ax.set_title(name, fontsize=9)
    axes[0][-1].legend(title="true class", fontsize=7, title_fontsize=8, loc="center left",
                       bbox_to_anchor=(1.02, 0.5))
    fig.suptitle(f"Peri-stimulus time histogram per true class (mean over {samples} test samples)",
                 fontsize=10)
    return _save(fig, path)


def membrane_figure(potential: np.ndarray, spikes: np.ndarray, neurons: Sequence[int],
                    threshold: float, layer: int, title: str, path: Path) -> Path:
    """One panel per neuron: membrane potential [T], threshold line, spike marks."""
    plt = _plt()
    count = potential.shape[1]
    fig, axes = plt.subplots(count, 1, figsize=(6.4, 1.5 + 1.3 * count), squeeze=False,
                             sharex=True)
    steps = np.arange(potential.shape[0])
    for k, ax in enumerate(axes[:, 0]):
        ax.plot(steps, potential[:, k], color="tab:blue", lw=1.3, marker=".", ms=3,
                label="membrane potential U[t]")
        ax.axhline(threshold, color="tab:red", ls="--", lw=1, label=f"threshold θ = {threshold:g}")
        fired = np.nonzero(spikes[:, k])[0]
        ax.scatter(fired, potential[fired, k], color="tab:red", marker="^", s=22, zorder=3,
                   label="spike (U > θ, then reset)")
        ax.set_ylabel("U (a.u.)", fontsize=8)
        ax.set_title(f"layer {layer}, neuron {neurons[k]}: {len(fired)} spikes", fontsize=8)
        ax.grid(alpha=0.25)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    _steps_axis(axes[-1, 0])
    fig.suptitle(title + "\n(U in input-current units, W·x)", fontsize=9)
    fig.tight_layout(rect=(0, 0.06 / count, 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    return _save(fig, path, tight=False)


def rate_heatmap_figure(maps: Mapping[str, np.ndarray], path: Path) -> Path:
    """One panel per layer: firing rate [N, T], neurons sorted by mean rate."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(maps), figsize=(3.8 * len(maps), 3.8), squeeze=False)
    for ax, (name, rates) in zip(axes[0], maps.items()):
        output = "output" in name  # output neurons keep their class order
        order = np.arange(len(rates)) if output else np.argsort(-rates.mean(1), kind="stable")
        im = ax.imshow(rates[order], aspect="auto", cmap="viridis", vmin=0,
                       vmax=max(1e-6, float(rates.max())), interpolation="nearest")
        _steps_axis(ax)
        ax.set_ylabel("output neuron (= class)" if output else "neuron (sorted by mean rate)")
        ax.set_title(name, fontsize=9)
        fig.colorbar(im, ax=ax, label="firing rate (spikes / timestep)")
    fig.suptitle("Firing rate over time (mean over samples)", fontsize=10)
    return _save(fig, path)


def embedding_figure(coords: np.ndarray, preferred: np.ndarray, selectivity: np.ndarray,
                     class_names: Sequence[str], axis_names: tuple[str, str], title: str,
                     path: Path) -> Path:
    """Neurons as points, coloured by preferred class, sized by selectivity."""
    plt = _plt()
    colors = _class_colors(len(class_names))
    fig, ax = plt.subplots(figsize=(6.2, 4.8))
    sizes = 12 + 60 * selectivity
    silent = preferred < 0
    if silent.any():
        ax.scatter(coords[silent, 0], coords[silent, 1], s=12, color="lightgrey",
                   label=f"silent ({int(silent.sum())})", edgecolors="none")
    for c, name in enumerate(class_names):
        rows = preferred == c
        if rows.any():
            ax.scatter(coords[rows, 0], coords[rows, 1], s=sizes[rows], color=colors[c],
                       label=name, edgecolors="black", linewidths=0.3, alpha=0.85)
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    ax.set_title(title, fontsize=9)
    ax.legend(title="preferred class", fontsize=7, title_fontsize=8, loc="center left",
              bbox_to_anchor=(1.02, 0.5))
    return _save(fig, path)


def attribution_figure(image: np.ndarray, maps: Mapping[str, np.ndarray],
                       temporal: Mapping[str, np.ndarray], title: str, path: Path) -> Path:
    """Input image, one pixel map per method (diverging, symmetric scale) and, when any
    method resolves time, the attribution per timestep."""
    plt = _plt()
    panels = 1 + len(maps) + (1 if temporal else 0)
    cols = min(3, panels)
    rows = math.ceil(panels / cols)
    fig, grid = plt.subplots(rows, cols, figsize=(4.1 * cols, 3.4 * rows), squeeze=False)
    axes = grid.flatten()
    for ax in axes[panels:]:
        ax.axis("off")
    im = axes[0].imshow(_image(image), cmap="gray_r", vmin=0, vmax=1)
    axes[0].set_title("input (intensity)", fontsize=9)
    fig.colorbar(im, ax=axes[0], fraction=0.046, label="pixel value [0, 1]")
    for ax, (name, values) in zip(axes[1:], maps.items()):
        vmax = float(np.abs(values).max()) or 1.0
        im = ax.imshow(_image(values), cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        ax.set_title(f"{name} (red: for the class)", fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046, label=_UNITS.get(name, "a.u."))
    for ax in axes[:1 + len(maps)]:
        ax.set_xlabel("pixel column")
        ax.set_ylabel("pixel row")
    if temporal:
        ax = axes[panels - 1]
        for name, per_step in temporal.items():
            scale = float(np.abs(per_step).max()) or 1.0
            ax.plot(np.arange(len(per_step)), per_step / scale, lw=1.3, marker=".", label=name)
        ax.axhline(0, color="grey", lw=0.6)
        _steps_axis(ax)
        ax.set_ylabel("sum over pixels (÷ max |.|)")
        ax.set_title("attribution per timestep", fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


_UNITS = {"saliency": "∂ logit / ∂ input spike, summed over t", "ig": "logit units (output spikes)",
          "sam": "NCS-weighted spikes", "occlusion": "logit drop (output spikes)"}


def faithfulness_figure(curves: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray, float, float]],
                        unit: str, score: str, path: Path) -> Path:
    """Deletion and insertion curves; curves[name] = (fractions, deletion, insertion,
    deletion AUC, insertion AUC); 'random' is drawn dashed grey."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    ylabel = "P(target class)" if score == "prob" else "target logit (output spikes)"
    for name, (frac, dele, ins, d_auc, i_auc) in curves.items():
        style = {"color": "grey", "ls": "--"} if name == "random" else {}
        axes[0].plot(frac, dele, lw=1.5, label=f"{name} (AUC {d_auc:.3f})", **style)
        axes[1].plot(frac, ins, lw=1.5, label=f"{name} (AUC {i_auc:.3f})", **style)
    noun = "pixels" if unit == "pixel" else "input time bins"
    for ax, what, hint in ((axes[0], "Deletion", "lower is better"),
                           (axes[1], "Insertion", "higher is better")):
        ax.set_xlabel(f"fraction of active {noun} {'removed' if what == 'Deletion' else 'inserted'}")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{what} curve ({hint})", fontsize=10)
        ax.set_xlim(0, 1)
        ax.legend(fontsize=7)
    return _save(fig, path)


def ablation_figure(drops: Mapping[str, np.ndarray], top: int, path: Path) -> Path:
    """Per hidden layer: the `top` neurons whose silencing costs most accuracy."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(drops), figsize=(4.6 * len(drops), 3.6), squeeze=False)
    for ax, (name, drop) in zip(axes[0], drops.items()):
        order = np.argsort(-drop, kind="stable")[:top]
        ax.bar(np.arange(len(order)), 100 * drop[order], color="tab:purple")
        ax.set_xticks(np.arange(len(order)), [str(i) for i in order], rotation=90, fontsize=7)
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_xlabel("neuron index (most important first)")
        ax.set_ylabel("accuracy drop when silenced (% points)")
        ax.set_title(f"{name}: mean {100 * drop.mean():.2f}, max {100 * drop.max():.2f} pts",
                     fontsize=9)
    fig.suptitle("Neuron ablation importance", fontsize=10)
    return _save(fig, path)


def rules_figure(depths: Sequence[int], fidelity: Sequence[float], chosen: int, layer: int,
                 path: Path) -> Path:
    """Held-out fidelity of the rule tree against its depth."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.4, 3.6))
    ax.plot(list(depths), [100 * f for f in fidelity], marker="o", lw=1.5,
            label=f"tree on layer {layer} spike counts")
    if chosen in depths:
        k = list(depths).index(chosen)
        ax.scatter([chosen], [100 * fidelity[k]], s=80, facecolors="none", edgecolors="tab:red",
                   zorder=3, label=f"chosen depth {chosen}: {100 * fidelity[k]:.1f}%")
    ax.set_xlabel("maximum tree depth")
    ax.set_ylabel("fidelity to the SNN (% held-out agreement)")
    ax.set_ylim(0, 100)
    ax.set_title("Rule extraction: fidelity vs depth", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return _save(fig, path)
