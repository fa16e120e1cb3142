"""One meaning per flag: seeds, samples, trials, device, and `run` failing early."""

from __future__ import annotations

import importlib.util
import json

import pytest

from spikeloom.cli.main import build_parser, main


def _flags(command: str) -> dict[str, object]:
    parser = build_parser(command)
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return {opt: a for a in sub._actions for opt in a.option_strings}


@pytest.mark.parametrize("command", ["train", "eval", "quantize", "faults", "energy", "explain",
                                     "search", "nas", "run"])
def test_every_command_that_runs_a_model_takes_device_and_seed(command):
    flags = _flags(command)
    assert "--device" in flags and "--seed" in flags


def test_shared_training_defaults():
    wanted = {"--epochs": 15, "--batch-size": 32, "--lr": 3e-3, "--lr-schedule": "cosine"}
    for command in ("train", "search", "nas", "run"):
        flags = _flags(command)
        assert {k: flags[k].default for k in wanted} == wanted, command


def test_trials_means_fault_trials_everywhere():
    for command in ("faults", "search", "run", "nas"):
        assert "--trials" in _flags(command)
    nas = build_parser("nas").parse_args(["nas", "--out", "o", "--fault-trials", "7"])
    assert nas.trials == 7  # the 0.1 spelling stays a hidden alias


def test_samples_is_a_count_and_sample_ids_are_indices():
    args = build_parser("explain").parse_args(["explain", "--model", "m", "--out", "o", "--samples", "3"])
    assert args.samples == 3 and args.sample_ids is None
    args = build_parser("explain").parse_args(["explain", "--model", "m", "--out", "o",
                                               "--sample-ids", "4", "9"])
    assert args.sample_ids == [4, 9]


@pytest.fixture(scope="module")
def snn(tmp_path_factory):
    root = tmp_path_factory.mktemp("vocab")
    for arch in ("snn", "ann"):
        assert main(["train", "--arch", arch, "--topology", "64-16-10", "--timesteps", "4", "--epochs", "1",
                     "--seed", "4", "--out", str(root / arch), "--quiet"]) == 0
    return root / "snn" / "model.pt"


def test_seeds_derive_from_the_checkpoint_and_are_recorded(snn, tmp_path):
    assert main(["faults", "--model", str(snn), "--ber", "0.05", "--trials", "2", "--samples", "50",
                 "--out", str(tmp_path / "a"), "--quiet"]) == 0
    a = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert (a["seed"], a["eval_seed"], a["fault_seed"]) == (4, 4, 4) and a["samples"] == 50
    assert main(["faults", "--model", str(snn), "--ber", "0.05", "--trials", "2", "--samples", "50",
                 "--fault-seed", "9", "--out", str(tmp_path / "b"), "--quiet"]) == 0
    b = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert (b["seed"], b["eval_seed"], b["fault_seed"]) == (4, 4, 9)
    assert b["clean_accuracy"] == a["clean_accuracy"]  # same encoding, other fault masks
    assert main(["energy", "--model", str(snn), "--out", str(tmp_path / "e"), "--quiet"]) == 0
    e = json.loads((tmp_path / "e" / "summary.json").read_text())
    assert (e["seed"], e["eval_seed"], e["device"]) == (4, 4, "cpu")


@pytest.mark.parametrize("argv, needle", [
    (["explain", "--samples", "2", "--sample-ids", "1"], "not both"),
    (["eval", "--device", "cuda"], "no CUDA GPU"),
    (["energy", "--device", "tpu"], "unknown device"),
    (["faults", "--engine", "delta", "--ber", "0.1", "--trials", "1", "--ann"], "cannot run this model"),
])
def test_bad_vocabulary_is_one_line(snn, tmp_path, capsys, argv, needle):
    import torch

    if "cuda" in argv and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    out = tmp_path / "o"
    model = snn.parent.parent / "ann" / "model.pt" if "--ann" in argv else snn
    argv = [a for a in argv if a != "--ann"]
    assert main([argv[0], "--model", str(model), *argv[1:], "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and needle in err
    assert not out.exists()


def test_run_checks_its_extras_before_anything(tmp_path, capsys, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "captum" else real(name, *a))
    out = tmp_path / "run"
    assert main(["run", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "spikeloom[explain]" in err and "--no-explain" in err
    assert not out.exists()
    assert main(["run", "--map-time-limit", "0", "--no-explain", "--out", str(out), "--quiet"]) == 2
    assert not out.exists()


def test_encoding_override_runs_the_model_with_another_encoding(snn, tmp_path):
    for enc in ("rate", "direct"):
        assert main(["eval", "--model", str(snn), "--encoding", enc, "--out", str(tmp_path / enc),
                     "--quiet"]) == 0
    rate, direct = (json.loads((tmp_path / e / "summary.json").read_text()) for e in ("rate", "direct"))
    assert rate["model_config"]["encoding"] == "rate" and direct["model_config"]["encoding"] == "direct"
    assert rate["accuracy"] != direct["accuracy"]
