"""The command line as a user meets it: outputs, --help, and one-line errors with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from spikeloom.cli.main import main


def test_train_and_eval_write_summaries(tmp_path, capsys):
    out = tmp_path / "snn"
    assert main(["train", "--epochs", "2", "--timesteps", "5", "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    for key in ("test_accuracy", "arch", "topology", "timesteps", "threshold", "seed",
                "train_seconds", "spikes_per_sample"):
        assert key in summary
    assert 0.5 < summary["test_accuracy"] <= 1 and summary["topology"] == "64-32-10"
    assert main(["eval", "--model", str(out / "model.pt"), "--out", str(tmp_path / "ev")]) == 0
    again = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert again["test_accuracy"] == summary["test_accuracy"]


@pytest.mark.parametrize("argv, needle", [
    (["train", "--topology", "64-x-10"], "malformed topology"),
    (["train", "--topology", "784-10"], "does not match dataset"),
    (["train", "--timesteps", "-2"], "timesteps must be a positive integer"),
    (["eval", "--model", "/nonexistent/model.pt"], "not found"),
    (["train", "--dataset", "nope"], "unknown dataset"),
    (["train", "--beta", "1.5"], "beta must be in [0, 1]"),
    (["train", "--arch", "ann", "--loss", "membrane"], "an ANN trains on its logits"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, argv, needle):
    if argv[0] == "train":
        argv = [*argv, "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and needle in err
    assert not (tmp_path / "o").exists()  # nothing created


def test_unwritable_out_and_corrupt_checkpoint(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["train", "--epochs", "0", "--out", str(blocker / "sub")]) == 2
    assert "choose a writable --out" in capsys.readouterr().err
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00garbage")
    assert main(["eval", "--model", str(bad)]) == 2
    assert "not a readable spikeloom checkpoint" in capsys.readouterr().err


def test_console_script_help_and_unknown_flag():
    exe = [sys.executable, "-m", "spikeloom.cli.main"]
    help_ = subprocess.run([*exe, "train", "--help"], capture_output=True, text=True)
    assert help_.returncode == 0 and "--timesteps" in help_.stdout
    bad = subprocess.run([*exe, "train", "--out", "x", "--bogus"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--bogus" in bad.stderr
