"""Report sections of a co-design search, from its summary dictionary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spikeloom.report.figures import chosen_snn
from spikeloom.report.html import Section, esc, fmt, table

STAGE_TEXT = {"accuracy": "stopped: accuracy below ANN", "reliability": "stopped: reliability below ANN",
              "energy": "stopped: energy not below ANN", "candidate": "passed all stages",
              "selected": "selected (lowest energy)"}


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f} %"


def overview(summary: dict[str, Any]) -> Section:
    ann, snn = summary["ann"], chosen_snn(summary)
    verdict = summary["verdict"]
    scfg = summary.get("search_config", {})
    lines = [f'<p><span class="verdict {esc(verdict)}">{esc(verdict)}</span> '
             f"Dataset <code>{esc(scfg.get('dataset'))}</code>, topology <code>{esc(scfg.get('topology'))}</code>, "
             f"int{esc(scfg.get('bits'))} weights, bit flips at BER {fmt(scfg.get('ber'))} "
             f"(scope {esc(scfg.get('scope'))}, {esc(scfg.get('trials'))} trials per BER).</p>"]
    methods = summary.get("train_methods") or ["bptt"]
    if methods != ["bptt"]:
        words = {"bptt": "trained with BPTT (LIF)", "convert": "converted from the ANN (IF, <code>conv-</code>)"}
        lines.append(f"<p>Grid SNNs {' and '.join(words[m] for m in methods)}; all compared with the same "
                     "ANN on the same validation samples and fault masks.</p>")
    if verdict == "PASS" and snn:
        ratio = ann["energy_pj"] / snn["energy_pj"] if snn["energy_pj"] else float("inf")
        lines.append(
            f"<p>The SNN <b>{esc(snn['name'])}</b> keeps the ANN's accuracy "
            f"({snn['accuracy'] * 100:.2f} % vs {ann['accuracy'] * 100:.2f} %), is at least as reliable "
            f"({_pct(snn['reliability_pct'])} vs {_pct(ann['reliability_pct'])} of fault-free accuracy) "
            f"and needs <b>{ratio:.2f}x</b> less energy per inference "
            f"({snn['energy_pj']:.4g} pJ vs {ann['energy_pj']:.4g} pJ).</p>")
    else:
        proposal = summary.get("proposal") or {}
        lines.append("<p>No SNN configuration passed all three stages. "
                     f"Proposed wider grid: timesteps {esc(proposal.get('timesteps'))}, thresholds "
                     f"{esc(proposal.get('thresholds'))} (run again with <code>--expand</code>).</p>")
    rows = [["ANN", ann["accuracy"] * 100, ann.get("reliability_pct"), ann["energy_pj"], ann["ops_per_sample"]]]
    if snn:
        rows.append([f"SNN {snn['name']}", snn["accuracy"] * 100, snn.get("reliability_pct"),
                     snn["energy_pj"], snn["ops_per_sample"]])
    lines.append(table(["model", "accuracy (%)", "reliability (%)", "energy (pJ/sample)",
                        "ops/sample"], rows))
    return Section("Result", "".join(lines), anchor="result")


def config_table(summary: dict[str, Any]) -> Section:
    ann = summary["ann"]
    rows = [["ANN", None, None, None, ann["accuracy"] * 100, ann["accuracy_fp"] * 100, ann.get("reliability_pct"),
             ann["energy_pj"], "reference"]]
    classes = [""]
    for c in summary.get("configs", []):
        rows.append([c["name"], c.get("method", "bptt"), c["timesteps"], c["threshold"], c["accuracy"] * 100, c["accuracy_fp"] * 100,
                     c.get("reliability_pct"), c["energy_pj"], STAGE_TEXT.get(c["stage"], c["stage"])])
        classes.append("best" if c["stage"] == "selected" else ("fail" if c["stage"] in
                                                                 ("accuracy", "reliability", "energy") else ""))
    body = table(["config", "obtained by", "T", "theta", "accuracy int (%)", "accuracy fp32 (%)", "reliability (%)",
                  "energy (pJ)", "stage"], rows, classes)
    body += ("<p>Algorithm 1 checks accuracy (and energy) first; only configurations that keep the "
             "ANN's accuracy get a fault campaign, so their reliability is the only one measured.</p>")
    return Section("Configurations and the stage where each stopped", body, anchor="configs")


def figures_section(title: str, figures: dict[str, tuple[str, Path]], anchor: str) -> Section:
    return Section(title, "", tuple(figures.values()), anchor=anchor)


def metadata(meta: dict[str, Any]) -> Section:
    rows = [[k, v if not isinstance(v, (dict, list)) else str(v)] for k, v in meta.items()]
    return Section("Run metadata", table(["field", "value"], rows), anchor="meta")
