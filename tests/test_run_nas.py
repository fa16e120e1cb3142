"""`spikeloom run --nas-trials N`: the architecture search as an opt-in stage of the run, on
digits with tiny budgets."""

from __future__ import annotations

import base64
import json
import math

import pytest

from spikeloom.cli.main import main

FAST = ["--timesteps", "4", "--thresholds", "1.0", "--tolerance", "0.5", "--epochs", "2", "--trials", "2",
        "--train-subset", "400", "--scope", "model", "--curve-bers", "--no-explain", "--no-map", "--quiet"]
SPACE = {"depth": [1], "widths": [8, 16], "timesteps": [3], "threshold": [1.0], "beta": [0.9],
         "reset": ["subtract"], "bits": [4, 8], "sparsity": [0.0, 0.5], "library": ["homogeneous:64x64"]}


def test_run_adds_nas_section_and_summary(tmp_path):
    space = tmp_path / "space.json"
    space.write_text(json.dumps(SPACE))
    out = tmp_path / "run"
    assert main(["run", *FAST, "--nas-trials", "3", "--nas-strategy", "random", "--nas-fidelity", "low",
                 "--nas-space", str(space), "--out", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text())
    nas = s["nas"]
    # trained like the run's models: same epochs, schedule, subset, seed
    settings = nas["config"]["settings"]
    assert (settings["epochs"], settings["lr_schedule"], settings["train_subset"]) == (2, "cosine", 400)
    assert nas["objectives"] == ["accuracy", "energy", "area"] and nas["fidelity"] == "low"
    assert len(nas["trials"]) == 3
    for t in nas["trials"]:
        assert t["fidelity"] == "low" and 0.0 <= t["score"] <= 1.0
    assert nas["promoted"], "low fidelity promotes candidates to full fidelity"
    for e in nas["promoted"]:
        o = e["objectives"]
        assert 0.0 < o["accuracy"] <= 1.0 and 0.0 < e["test_accuracy"] <= 1.0
        assert o["energy"] > 0
        # homogeneous 64x64 crossbars: the area is a whole number of 4,096-cell crossbars
        assert o["area"] >= 4096 and o["area"] % 4096 == 0
        assert o["latency"] == 3 * 2  # T = 3, two weight layers
    keys = {e["key"] for e in nas["promoted"]}
    assert {p["label"] for p in nas["pareto"]} <= {e["label"] for e in nas["promoted"]} and len(keys) >= 1
    hv = nas["hypervolume"]["value"]
    assert 0.0 < hv <= 1.0 and len(nas["hypervolume"]["curve"]) == len(nas["promoted"])
    corr = nas["proxy_correlation"]
    assert corr["evaluator"] == "low-fidelity accuracy" and corr["n"] == len(nas["promoted"])
    assert s["meta"]["seconds_nas"] > 0
    html = (out / "report.html").read_text()
    assert '<section id="nas">' in html and f"{hv:.4f}" in html
    assert all(p["label"] in html for p in nas["pareto"])
    for name in ("nas_pareto_energy.png", "nas_pareto_area.png", "nas_hypervolume.png", "nas_proxy_correlation.png"):
        png = (out / "figures" / name).read_bytes()
        assert png[:4] == b"\x89PNG" and base64.b64encode(png).decode("ascii") in html  # embedded
    assert not math.isnan(s["ann"]["accuracy"])


def test_run_without_nas_has_no_nas_entry(tmp_path):
    out = tmp_path / "run"
    assert main(["run", *FAST, "--out", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert "nas" not in s and "seconds_nas" not in s["meta"]
    assert '<section id="nas">' not in (out / "report.html").read_text()


@pytest.mark.parametrize("extra, needle", [
    (["--nas-trials", "-1"], "--nas-trials must be >= 0, got -1"),
    (["--nas-trials", "2", "--nas-space", "/nonexistent.yaml"], "does not exist"),
    (["--nas-trials", "2", "--nas-objectives", "energy,area"], "must include accuracy"),
    (["--nas-trials", "2", "--nas-objectives", "accuracy,speed"], "unknown objective"),
])
def test_run_nas_bad_input(tmp_path, capsys, extra, needle):
    assert main(["run", *FAST, *extra, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and needle in err
    assert not (tmp_path / "o").exists()


def test_run_passes_its_executor_to_the_nas_stage(tmp_path, monkeypatch):
    """`run --executor processes --nas-trials N` evaluates the NAS trials on the same executor
    (the NAS over workers is compared with the serial run in tests/test_nas_executor.py)."""
    import spikeloom.search.nas.study as study

    class Seen(Exception):
        pass

    seen = []

    def spy(*args, **kwargs):
        seen.append(kwargs.get("executor"))
        raise Seen

    monkeypatch.setattr(study, "run_nas", spy)
    space = tmp_path / "space.json"
    space.write_text(json.dumps(SPACE))
    with pytest.raises(Seen):
        main(["run", *FAST, "--nas-trials", "2", "--nas-space", str(space), "--executor", "processes",
              "--workers", "2", "--out", str(tmp_path / "run")])
    assert [(e.kind, e.workers) for e in seen] == [("processes", 2)]
