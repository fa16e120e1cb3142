"""`spikeloom search` / `run` end to end on digits with tiny budgets; Optuna workers."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from spikeloom.cli.main import main

FAST = ["--epochs", "2", "--trials", "2", "--train-subset", "400", "--quiet"]


def test_grid_search_summary_and_resume(tmp_path, capsys):
    out = tmp_path / "s"
    argv = ["search", "--timesteps", "4", "8", "--thresholds", "1.0", "--rule", "strict", "--tolerance", "0.5",
            "--out", str(out), *FAST]
    assert main(argv) == 0
    s = json.loads((out / "summary.json").read_text())
    assert set(s["ann"]) >= {"accuracy", "reliability_pct", "energy_pj"}
    assert [(c["timesteps"], c["threshold"]) for c in s["configs"]] == [(4, 1.0), (8, 1.0)]
    for c in s["configs"]:
        assert set(c) >= {"timesteps", "threshold", "accuracy", "reliability_pct", "energy_pj", "stage"}
    assert s["verdict"] in ("PASS", "FAIL") and "candidate_list1" in s and "candidate_list2" in s
    # ANN energy is MACs x 3.2 pJ (int column): (64*32 + 32*10) * 3.2
    assert s["ann"]["energy_pj"] == pytest.approx((64 * 32 + 32 * 10) * 3.2)
    # with a 50-point tolerance every SNN reaches the campaign, so reliability is measured
    assert all(c["reliability_pct"] is not None for c in s["configs"])
    if s["verdict"] == "PASS":
        assert s["best"]["energy_pj"] == min(c["energy_pj"] for c in s["candidate_list2"])
    assert (out / "report.html").exists() and (out / "figures" / "accuracy.png").exists()
    # selection read the validation split (15 % of the training data); the test split reports
    assert s["protocol"]["validation_samples"] == 216 and s["protocol"]["selection_reads"] == "validation"
    assert all(c["test"]["samples"] == 360 and 0 < c["test"]["accuracy"] <= 1 for c in [s["ann"], *s["configs"]])
    assert s["ann"]["test"]["reliability_pct"] > 0 and s["decision"]["rule"] == "strict"
    # Re-running the same command reuses every finished measurement (nothing retrained).
    stamps = {p: p.stat().st_mtime_ns for p in (out / "models").rglob("model.pt")}
    assert main(argv) == 0
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    again = json.loads((out / "summary.json").read_text())
    assert again["configs"] == s["configs"]


def test_accuracy_failures_get_no_campaign(tmp_path):
    out = tmp_path / "s"
    # 1 training sample: the SNN cannot match the ANN trained the same way... so give the ANN
    # the same starvation; instead demand an impossible accuracy by a zero tolerance and T=1.
    assert main(["search", "--timesteps", "1", "--thresholds", "50", "--out", str(out), *FAST]) == 0
    s = json.loads((out / "summary.json").read_text())
    cfg = s["configs"][0]
    assert cfg["stage"] == "accuracy" and cfg["reliability_pct"] is None
    acc = cfg["comparisons"]["accuracy"]  # the stat rule: shown worse, with its p-value
    assert acc["verdict"] == "worse" and acc["p_value"] < 0.05 and acc["ci"][1] < 0
    assert not (out / "campaigns" / "T1-th50.jsonl").exists()
    assert s["verdict"] == "FAIL" and s["best"] is None and s["proposal"]["timesteps"] == [1, 2]


@pytest.mark.parametrize("argv, needle", [
    (["search", "--thresholds"], "expected at least one argument"),
    (["search", "--topology", "784-10"], "does not match dataset"),
    (["search", "--ber", "2"], "outside [0, 1]"),
    (["search", "--strategy", "optuna", "--storage", "postgresql://nobody@127.0.0.1:1/none"],
     "cannot open study storage"),
])
def test_search_bad_input(tmp_path, capsys, argv, needle):
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and needle in err
    assert not (tmp_path / "o").exists()


WORKER = textwrap.dedent("""
    import sys
    from spikeloom.cli.main import main
    sys.exit(main(["search", "--strategy", "optuna", "--n-trials", "4", "--storage", sys.argv[1],
                   "--timesteps", "2", "4", "--thresholds", "1.0", "--epochs", "1", "--trials", "1",
                   "--train-subset", "200", "--scope", "model", "--quiet", "--out", sys.argv[2]]))
""")


def test_two_optuna_workers_share_one_study(tmp_path):
    optuna = pytest.importorskip("optuna")
    url = f"sqlite:///{tmp_path / 'study.db'}"
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    procs = [subprocess.Popen([sys.executable, str(script), url, str(tmp_path / f"w{i}")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
    (name,) = optuna.study.get_all_study_names(url)
    trials = optuna.load_study(study_name=name, storage=url).get_trials()
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 4  # none lost, none extra
    assert len({t.number for t in complete}) == 4
    assert all(t.user_attrs.get("surplus") for t in trials if t.state != optuna.trial.TrialState.COMPLETE)
    summaries = [json.loads((tmp_path / f"w{i}" / "summary.json").read_text()) for i in range(2)]
    assert max(len(s["configs"]) for s in summaries) == 4  # the last worker to finish saw all
    # a third run against the finished study measures nothing new
    again = subprocess.run([sys.executable, str(script), url, str(tmp_path / "w2")], capture_output=True,
                           text=True, timeout=600)
    assert again.returncode == 0
    assert len(optuna.load_study(study_name=name, storage=url).get_trials()) == len(trials)
