"""The HTML report: self-contained, escaped, and rendered by headless Chromium."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess

import matplotlib.image as mpimg
import pytest

from spikeloom.report import Section, write_report
from spikeloom.report.figures import search_figures
from spikeloom.report.search_report import config_table, figures_section, metadata, overview


def _campaign(clean, accs):
    rows = [{"scope": "model", "ber": b, "trials": 5, "mean_accuracy": a, "accuracy_drop": clean - a,
             "reliability_pct": 100 * a / clean, "std": 0.01, "ci95": 0.02}
            for b, a in zip((1e-4, 1e-3, 1e-2, 1e-1), accs)]
    rows += [{"scope": f"layer:{i}", "ber": 1e-2, "trials": 5, "mean_accuracy": clean - 0.01 * i,
              "accuracy_drop": 0.01, "reliability_pct": 100 * (clean - 0.01 * i) / clean,
              "std": 0.0, "ci95": [clean - 0.01 * i, clean - 0.01 * i]} for i in (1, 2)]
    return {"clean_accuracy": clean, "results": rows}


def _row(name, acc, rel, energy, stage, t=None, th=None):
    return {"name": name, "arch": "snn" if t else "ann", "timesteps": t, "threshold": th,
            "accuracy": acc, "accuracy_fp": acc, "reliability_pct": rel, "energy_pj": energy,
            "ops_per_sample": energy * 10, "stage": stage, "checkpoint": ""}


@pytest.fixture()
def summary():
    best = _row("T10-th1.5", 0.95, 98.0, 120.0, "selected", 10, 1.5)
    return {
        "verdict": "PASS",
        "ann": _row("ann", 0.94, 90.0, 2000.0, ""),
        "configs": [_row("T10-th0.5", 0.93, None, 300.0, "accuracy", 10, 0.5), best,
                    _row("T30-th0.5", 0.96, 99.0, 900.0, "candidate", 30, 0.5)],
        "candidate_list1": [best], "candidate_list2": [best], "best": best,
        "pareto": ["ann", "T10-th1.5", "T30-th0.5"],
        "campaigns": {"ann": _campaign(0.94, [0.94, 0.93, 0.85, 0.3]),
                      "T10-th1.5": _campaign(0.95, [0.95, 0.95, 0.93, 0.6])},
        "search_config": {"dataset": "<script>alert(1)</script>", "topology": "64-32-10",
                          "bits": 8, "ber": 0.01, "scope": "both", "trials": 5},
    }


def _build(summary, tmp_path):
    figures = search_figures(summary, tmp_path / "figures")
    sections = [overview(summary), figures_section("Figures", figures, "figures"),
                config_table(summary), metadata({"seed": 0, "note": "<b>x</b>"}),
                Section("Extra", "<p>ok</p>", anchor="extra")]
    return figures, write_report(tmp_path / "report.html", "Report <&>", "sub", sections)


def test_report_embeds_every_figure_and_escapes(summary, tmp_path):
    figures, path = _build(summary, tmp_path)
    assert set(figures) == {"accuracy", "ber_curves", "layerwise", "side_by_side", "pareto"}
    html = path.read_text()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "Report &lt;&amp;&gt;" in html
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == len(figures)
    for i, data in enumerate(images):
        png = tmp_path / f"img{i}.png"
        png.write_bytes(base64.b64decode(data))
        assert mpimg.imread(png).shape[0] > 100  # a real picture, not a placeholder
    assert "16.67x" in html  # energy ratio 2000 / 120 in the overview
    assert "src=\"http" not in html and "<link" not in html  # self-contained


def test_figures_skip_missing_data(summary, tmp_path):
    summary = {**summary, "campaigns": {}}
    figures = search_figures(summary, tmp_path)
    assert "ber_curves" not in figures and "layerwise" not in figures and "accuracy" in figures


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium(summary, tmp_path):
    figures, path = _build(summary, tmp_path)
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
             "--virtual-time-budget=3000"]
    dom = subprocess.run([*flags, "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert console == []  # no console errors or messages at all
    assert dom.stdout.count("<img") == len(figures) and "Configurations and the stage" in dom.stdout
    shot = tmp_path / "report.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1280,2400", path.as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert mpimg.imread(shot).shape[:2] == (2400, 1280)
