"""The co-design pipeline behind `spikeloom search` and `spikeloom run`: search, then
figures and the HTML report; `run` adds explanations and crossbar mapping of the chosen SNN,
and (opt-in) an architecture search on the same dataset.

Pure orchestration: each stage's work lives in its own package; this module only passes
result dictionaries along and collects report sections.
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spikeloom import __version__
from spikeloom.data.registry import Dataset
from spikeloom.io import write_summary
from spikeloom.report import Section, write_report
from spikeloom.report.figures import chosen_snn, search_figures
from spikeloom.report.html import esc, fmt, table
from spikeloom.report.search_report import config_table, figures_section, metadata, overview
from spikeloom.search.config import SearchConfig
from spikeloom.search.nas.stage import NasStage
from spikeloom.search.staged import SearchResult


@dataclass(frozen=True)
class RunOptions:
    """What a pipeline run does besides the search."""

    strategy: str = "grid"  # or 'optuna'
    n_trials: int = 20
    storage: str | None = None
    expand: bool = False
    explain: bool = False
    map_crossbars: bool = False
    map_time_limit: float = 20.0
    progress: bool = False
    nas: NasStage = NasStage()


def run_metadata(scfg: SearchConfig, opts: RunOptions, started: str, seconds: dict[str, float]
                 ) -> dict[str, Any]:
    import torch  # noqa: PLC0415

    return {"spikeloom": __version__, "python": sys.version.split()[0], "torch": torch.__version__,
            "platform": platform.platform(), "device": "cuda" if torch.cuda.is_available() else "cpu",
            "seed": scfg.seed, "strategy": opts.strategy, "started": started,
            **{f"seconds_{k}": round(v, 2) for k, v in seconds.items()}}


def run_search(scfg: SearchConfig, data: Dataset, out: Path, opts: RunOptions,
               log: Callable[[str], None]) -> SearchResult:
    from spikeloom.search.staged import staged_search  # noqa: PLC0415

    if opts.strategy == "optuna":
        from spikeloom.search.multiobjective import optuna_search  # noqa: PLC0415

        return optuna_search(scfg, data, out, opts.n_trials, opts.storage, progress=opts.progress, log=log)
    return staged_search(scfg, data, out, expand=opts.expand, progress=opts.progress, log=log)


def run_pipeline(scfg: SearchConfig, data: Dataset, out: Path, opts: RunOptions,
                 log: Callable[[str], None] = lambda _s: None) -> dict[str, Any]:
    """Search, then (optionally) explain and map the chosen SNN; write figures, report.html
    and summary.json into `out`. Returns the summary."""
    seconds: dict[str, float] = {}
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    t0 = time.perf_counter()
    result = run_search(scfg, data, out, opts, log)
    seconds["search"] = time.perf_counter() - t0
    summary = result.to_dict()
    figures = search_figures(summary, out / "figures")
    sections: list[Section] = [
        overview(summary),
        figures_section("Figures", figures, "figures"),
        config_table(summary),
    ]
    if opts.nas.enabled:
        t = time.perf_counter()
        section, summary["nas"] = nas_stage(scfg, data, out, opts, log)
        sections.append(section)
        seconds["nas"] = time.perf_counter() - t
    # The selected SNN; on FAIL the most accurate one, so the report still shows what it does.
    focus = chosen_snn(summary)
    if opts.explain and focus is not None:
        t = time.perf_counter()
        section, summary["explain"] = explain_section(focus, data, out / "explain", scfg.seed)
        sections.append(section)
        seconds["explain"] = time.perf_counter() - t
    if opts.map_crossbars and focus is not None:
        t = time.perf_counter()
        section, summary["mapping"] = mapping_section(focus, data, out / "mapping", scfg.seed,
                                                      opts.map_time_limit)
        sections.append(section)
        seconds["mapping"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - t0
    summary["meta"] = run_metadata(scfg, opts, started, seconds)
    summary["figures"] = {k: str(p) for k, (_, p) in figures.items()}
    sections.append(metadata(summary["meta"]))
    report = write_report(out / "report.html", "spikeloom co-design report",
                          f"{data.name} · {scfg.to_dict()['topology']} · verdict {summary['verdict']}",
                          sections)
    summary["report"] = str(report)
    write_summary(out, summary)
    return summary


def nas_stage(scfg: SearchConfig, data: Dataset, out: Path, opts: RunOptions,
              log: Callable[[str], None]) -> tuple[Section, dict[str, Any]]:
    """A small architecture search on the run's dataset (`opts.nas`), in `out/nas`; its
    report section and summary (as `spikeloom nas` writes them)."""
    from spikeloom.search.nas.report import nas_section  # noqa: PLC0415
    from spikeloom.search.nas.stage import nas_config  # noqa: PLC0415
    from spikeloom.search.nas.study import run_nas, summarize  # noqa: PLC0415

    ncfg = nas_config(scfg, opts.nas)
    log(f"architecture search: {ncfg.strategy}, {ncfg.n_trials} trials, {ncfg.fidelity.kind} fidelity")
    result = run_nas(ncfg, data, out / "nas", progress=opts.progress, log=log)
    summary = summarize(result, out / "nas")
    return nas_section(summary, out / "figures"), summary


def explain_section(chosen: dict[str, Any], data: Dataset, out: Path, seed: int
                    ) -> tuple[Section, dict[str, Any]]:
    """Explain the chosen SNN (trained weights) on two test samples with every method."""
    from spikeloom.explain import explain_model  # noqa: PLC0415
    from spikeloom.snn.checkpoint import load_checkpoint  # noqa: PLC0415

    ckpt = load_checkpoint(chosen["checkpoint"])
    result = explain_model(ckpt.build(), ckpt.model_config, data, samples=(0, 1), out_dir=out, seed=seed)
    summary = result.to_dict()
    faith = summary["faithfulness"]["methods"] if "methods" in summary["faithfulness"] else {}
    rows = [[name, f.get("deletion_auc"), f.get("insertion_auc")] for name, f in faith.items()]
    body = ("<p>What this SNN does, on test samples 0 and 1: spike activity, input "
            "attributions, and a decision tree fitted to the SNN's own predictions. Deletion AUC "
            "(lower is better) and insertion AUC (higher is better) say how faithful each "
            "attribution is; <code>random</code> is the baseline ordering.</p>")
    if rows:
        body += table(["attribution", "deletion AUC", "insertion AUC"], rows)
    rules = summary.get("rules") or {}
    if rules:
        body += (f"<p>Rules: depth {fmt(rules.get('depth'))}, fidelity to the SNN "
                 f"{fmt(rules.get('fidelity'))} on held-out samples.</p>")
        if rules.get("text"):
            body += f"<details><summary>rules as text</summary><pre>{esc(rules['text'])}</pre></details>"
    figures = tuple((name.replace("_", " "), Path(path)) for name, path in result.figures.items())
    title = "Explanation of the selected SNN" if chosen["stage"] == "selected" else (
        f"Explanation of the most accurate SNN ({chosen['name']}; none was selected)")
    return Section(title, body, figures, anchor="explain"), summary


def prune_to_fan_in(weights: list[Any], fan_in: int) -> list[Any]:
    """Keep the `fan_in` largest |w| of every neuron's row (weights [out, in]), zero the rest."""
    import torch  # noqa: PLC0415

    pruned = []
    for w in weights:
        if w.shape[1] <= fan_in:
            pruned.append(w.clone())
            continue
        keep = w.abs().topk(fan_in, dim=1).indices
        pruned.append(torch.zeros_like(w).scatter(1, keep, w.gather(1, keep)))
    return pruned


def mapping_section(chosen: dict[str, Any], data: Dataset, out: Path, seed: int, time_limit: float,
                    library_spec: str = "table2") -> tuple[Section, dict[str, Any]]:
    """Map the chosen SNN onto memristor crossbars (area, then global routes).

    Crossbars take at most `max_inputs` axons, so each neuron keeps its largest weights up
    to that fan-in; the pruned, quantized SNN is re-evaluated so the cost of mapping shows."""
    import torch  # noqa: PLC0415

    from spikeloom.hw import graph_from_weights, map_network, parse_library, plot_usage  # noqa: PLC0415
    from spikeloom.io import atomic_write_json, prepare_out_dir  # noqa: PLC0415
    from spikeloom.quant import apply_quantized, quantize_model  # noqa: PLC0415
    from spikeloom.snn.checkpoint import load_checkpoint  # noqa: PLC0415
    from spikeloom.train import evaluate  # noqa: PLC0415

    out = prepare_out_dir(out)
    ckpt = load_checkpoint(chosen["checkpoint"])
    library = parse_library(library_spec)
    model = ckpt.build()
    pruned = prune_to_fan_in([fc.weight.detach() for fc in model.fcs], library.max_inputs)
    with torch.no_grad():
        for fc, w in zip(model.fcs, pruned):
            fc.weight.copy_(w)
    qmodel = apply_quantized(model, quantize_model(model, bits=8))
    accuracy = evaluate(qmodel, ckpt.model_config, data.x_test, data.y_test, seed=seed)
    graph = graph_from_weights([w.numpy() for w in pruned], name=chosen["name"])
    result = map_network(graph, library, objective="area-then-routes", time_limit=time_limit,
                         workers=2, seed=seed, external_inputs=True)
    atomic_write_json(out / "mapping.json", result.mapping_dict())
    summary = {**result.summary_dict(), "fan_in_limit": library.max_inputs,
               "pruned_accuracy": accuracy, "accuracy": chosen["accuracy"]}
    figure = Path(plot_usage(result, str(out / "usage.png")))
    rows = [["crossbars used", result.crossbars_used], ["area (memristors)", result.area],
            ["proven lower bound on area", result.lower_bound], ["gap", result.gap],
            ["global routes", result.routes_global], ["total routes", result.routes_total],
            ["solver status", result.status], ["solver seconds", round(result.solver_seconds, 2)],
            ["independent check passed", result.valid],
            [f"accuracy after pruning to fan-in {library.max_inputs} (int8)", accuracy],
            ["accuracy before pruning (int8)", chosen["accuracy"]]]
    body = (f"<p>The SNN {esc(chosen['name'])} mapped with CP-SAT onto the <code>{esc(library.name)}</code> crossbar "
            "library, minimising area and then global routes (input spikes arrive from outside "
            "the crossbars). Every mapping is re-checked by an independent validator.</p>"
            + table(["figure", "value"], rows))
    return (Section(f"Crossbar mapping of SNN {chosen['name']}", body, (("crossbar usage", figure),),
                    anchor="mapping"), summary)
