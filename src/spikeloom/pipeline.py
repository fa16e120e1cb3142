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
from spikeloom.measure.graph import PruningPolicy
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
    explain_samples: tuple[int, ...] = (0, 1)
    explain_methods: str = "all"
    map_crossbars: bool = False
    map_library: str = "table2"
    map_time_limit: float = 20.0
    map_threads: int = 2
    progress: bool = False
    device: str = "cpu"
    executor: Any = None  # an ExecutorConfig: where fault-campaign blocks and NAS evaluations run
    nas: NasStage = NasStage()


def run_metadata(scfg: SearchConfig, opts: RunOptions, started: str, seconds: dict[str, float]
                 ) -> dict[str, Any]:
    import torch  # noqa: PLC0415

    return {"spikeloom": __version__, "python": sys.version.split()[0], "torch": torch.__version__,
            "platform": platform.platform(), "device": opts.device,
            "seed": scfg.seed, "eval_seed": scfg.seed, "fault_seed": scfg.seed, "split_seed": scfg.seed,
            "strategy": opts.strategy, "started": started,
            **{f"seconds_{k}": round(v, 2) for k, v in seconds.items()}}


def run_search(scfg: SearchConfig, data: Dataset, out: Path, opts: RunOptions,
               log: Callable[[str], None]) -> SearchResult:
    """Selection on the validation split, then the test figures of what was measured."""
    from spikeloom.search.staged import report_test, staged_search  # noqa: PLC0415

    if opts.strategy == "optuna":
        from spikeloom.search.multiobjective import optuna_search  # noqa: PLC0415

        result = optuna_search(scfg, data, out, opts.n_trials, opts.storage, progress=opts.progress,
                               log=log, device=opts.device, executor=opts.executor)
    else:
        result = staged_search(scfg, data, out, expand=opts.expand, progress=opts.progress, log=log,
                               device=opts.device, executor=opts.executor)
    return report_test(result, data, out, opts.progress, log, opts.device, opts.executor)


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
        section, summary["explain"] = explain_section(focus, data, out / "explain", scfg.seed, opts)
        sections.append(section)
        seconds["explain"] = time.perf_counter() - t
    if opts.map_crossbars and focus is not None:
        t = time.perf_counter()
        section, summary["mapping"] = mapping_section(focus, data, out / "mapping", scfg.seed, opts)
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
    result = run_nas(ncfg, data, out / "nas", progress=opts.progress, log=log, device=opts.device,
                     executor=opts.executor)
    summary = summarize(result, out / "nas", data=data)
    return nas_section(summary, out / "figures"), summary


def explain_section(chosen: dict[str, Any], data: Dataset, out: Path, seed: int, opts: RunOptions
                    ) -> tuple[Section, dict[str, Any]]:
    """Explain the chosen SNN (trained weights) on the run's test samples and methods."""
    from spikeloom.explain import explain_model, parse_methods  # noqa: PLC0415
    from spikeloom.snn.checkpoint import load_checkpoint  # noqa: PLC0415

    ckpt = load_checkpoint(chosen["checkpoint"])
    result = explain_model(ckpt.build(opts.device), ckpt.model_config, data, samples=opts.explain_samples,
                           methods=parse_methods(opts.explain_methods), out_dir=out, seed=seed)
    summary = result.to_dict()
    faith = summary["faithfulness"]["methods"] if "methods" in summary["faithfulness"] else {}
    rows = [[name, f.get("deletion_auc"), f.get("insertion_auc")] for name, f in faith.items()]
    ids = ", ".join(str(i) for i in opts.explain_samples)
    body = (f"<p>What this SNN does, on test samples {ids}: spike activity, input "
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


def mapping_policy(library_spec: str) -> PruningPolicy:
    """The pruning the run applies before mapping: each neuron keeps its largest weights up to
    the library's largest crossbar input count (`spikeloom map --model --fan-in N` alike)."""
    from spikeloom.hw import parse_library  # noqa: PLC0415

    return PruningPolicy(fan_in=parse_library(library_spec).max_inputs)


def mapping_section(chosen: dict[str, Any], data: Dataset, out: Path, seed: int, opts: RunOptions
                    ) -> tuple[Section, dict[str, Any]]:
    """Map the chosen SNN onto memristor crossbars (area, then global routes).

    Crossbars take at most `max_inputs` axons, so the graph comes from the measurement
    layer's bridge with `mapping_policy`; the pruned, quantized SNN is re-evaluated on the
    test split so the cost of mapping shows."""
    from spikeloom.hw import check_mapping, map_network, parse_library, plot_usage  # noqa: PLC0415
    from spikeloom.io import atomic_write_json, prepare_out_dir  # noqa: PLC0415
    from spikeloom.measure import evaluate  # noqa: PLC0415
    from spikeloom.measure.graph import graph_from_model, prune_model  # noqa: PLC0415
    from spikeloom.quant import apply_quantized, quantize_model  # noqa: PLC0415
    from spikeloom.snn.checkpoint import load_checkpoint  # noqa: PLC0415

    out = prepare_out_dir(out)
    ckpt = load_checkpoint(chosen["checkpoint"])
    library = parse_library(opts.map_library)
    policy = mapping_policy(opts.map_library)
    pruned = prune_model(ckpt.build(opts.device), policy)
    qmodel = apply_quantized(pruned, quantize_model(pruned, bits=8))
    accuracy = evaluate(qmodel, ckpt.model_config, data.x_test, data.y_test, seed=seed)
    graph = graph_from_model(ckpt.build(), policy, name=chosen["name"])
    result = map_network(graph, library, objective="area-then-routes", time_limit=opts.map_time_limit,
                         workers=opts.map_threads, seed=seed, external_inputs=True)
    mapping = result.mapping_dict()
    check = check_mapping(graph, library, mapping, external=result.external_inputs)
    atomic_write_json(out / "mapping.json", mapping)
    test_accuracy = (chosen.get("test") or {}).get("accuracy")
    summary = {**result.summary_dict(), "fan_in_limit": library.max_inputs, "pruning": policy.to_dict(),
               "network_stats": graph.stats(), "valid": check.valid,
               "pruned_test_accuracy": accuracy, "test_accuracy": test_accuracy}
    figure = Path(plot_usage(result, str(out / "usage.png")))
    rows = [["crossbars used", result.crossbars_used], ["area (memristors)", result.area],
            ["proven lower bound on area", result.lower_bound], ["gap", result.gap],
            ["global routes", result.routes_global], ["total routes", result.routes_total],
            ["solver status", result.status], ["solver seconds", round(result.solver_seconds, 2)],
            ["independent check passed", check.valid],
            [f"test accuracy after pruning to fan-in {library.max_inputs} (int8)", accuracy],
            ["test accuracy before pruning (int8)", test_accuracy]]
    body = (f"<p>The SNN {esc(chosen['name'])} mapped with CP-SAT onto the <code>{esc(library.name)}</code> crossbar "
            "library, minimising area and then global routes (input spikes arrive from outside "
            "the crossbars). Every mapping is re-checked by an independent validator. "
            f"{esc(str(summary.get('gap_meaning', '')))} (lower bound from "
            f"<code>{esc(str(summary.get('lower_bound_source', 'not recorded')))}</code>.)</p>"
            + table(["figure", "value"], rows))
    return (Section(f"Crossbar mapping of SNN {chosen['name']}", body, (("crossbar usage", figure),),
                    anchor="mapping"), summary)
