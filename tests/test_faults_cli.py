"""spikeloom faults / spikeloom energy as a user meets them."""

from __future__ import annotations

import json

import pytest
import torch

from spikeloom.cli.main import main


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    for arch in ("snn", "ann"):
        assert main(["train", "--arch", arch, "--epochs", "1", "--timesteps", "4", "--lr", "1e-2",
                     "--topology", "64-16-10", "--out", str(root / arch), "--quiet"]) == 0
    return root


def test_faults_summary_and_resume(trained, tmp_path):
    out = tmp_path / "f"
    argv = ["faults", "--model", str(trained / "snn" / "model.pt"), "--ber", "1e-2", "0.1",
            "--trials", "3", "--scope", "both", "--samples", "100", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert {"clean_accuracy", "results", "float_accuracy"} <= set(summary)
    scopes = [(r["scope"], r["ber"]) for r in summary["results"]]
    assert scopes == [("model", 0.01), ("layer:1", 0.01), ("layer:2", 0.01),
                      ("model", 0.1), ("layer:1", 0.1), ("layer:2", 0.1)]
    assert set(summary["results"][0]) == {"scope", "ber", "trials", "mean_accuracy",
                                          "accuracy_drop", "reliability_pct", "std", "ci95", "accuracies"}
    assert summary["engine"] == "compiled" and summary["seed"] == summary["fault_seed"] == summary["eval_seed"] == 0
    lines = (out / "trials.jsonl").read_text().splitlines()
    assert len(lines) == 1 + 18 and all("seed" in json.loads(x) for x in lines[1:])
    assert main(argv) == 0  # resumes: nothing new to run, same numbers
    again = json.loads((out / "summary.json").read_text())
    assert again["results"] == summary["results"] and again["engine"] == "compiled"


@pytest.mark.parametrize("extra, needle", [
    (["--ber", "1.5"], "bit error rate must be in [0, 1]"),
    (["--scope", "layer", "--layers", "7"], "layer index 7 does not exist"),
    (["--bits", "40"], "bit width must be an integer from 2 to 16"),
    (["--fault", "threshold", "--ann"], "need an SNN"),
])
def test_faults_bad_input(trained, tmp_path, capsys, extra, needle):
    model = trained / ("ann" if "--ann" in extra else "snn") / "model.pt"
    extra = [e for e in extra if e != "--ann"]
    out = tmp_path / "o"
    assert main(["faults", "--model", str(model), *extra, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and needle in err
    assert not out.exists()


def test_faults_refuses_other_bit_width_than_quantized(trained, tmp_path, capsys):
    from spikeloom.quant import quantize_model, quantized_checkpoint
    from spikeloom.snn import load_checkpoint, save_checkpoint

    ckpt = load_checkpoint(trained / "snn" / "model.pt")
    path = tmp_path / "q4.pt"
    save_checkpoint(path, quantized_checkpoint(ckpt, quantize_model(ckpt.build(), 4)))
    assert main(["faults", "--model", str(path), "--bits", "8", "--out", str(tmp_path / "o")]) == 2
    assert "quantized to int4" in capsys.readouterr().err


def test_energy_cli_and_errors(trained, tmp_path, capsys):
    out = tmp_path / "e"
    assert main(["energy", "--model", str(trained / "snn" / "model.pt"), "--compare",
                 str(trained / "ann" / "model.pt"), "--out", str(out), "--quiet"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert {"energy_pj_per_sample", "ops_per_sample", "per_layer", "table", "ann_snn_ratio"} <= set(s)
    assert s["table"] == {"ADD": 0.1, "MUL": 3.1, "ACC": 0.1, "MAC": 3.2}
    ann_pj = (64 * 16 + 16 * 10) * 3.2
    assert s["ann_snn_ratio"] == pytest.approx(ann_pj / s["energy_pj_per_sample"])
    bad = tmp_path / "t.json"
    bad.write_text('{"MAC": 1}')
    assert main(["energy", "--model", str(trained / "snn" / "model.pt"), "--table", str(bad),
                 "--out", str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "missing ACC" in err and err.count("\n") == 1
    assert not (tmp_path / "o2").exists()


def test_quantize_writes_an_integer_checkpoint_that_faults_reads(trained, tmp_path, capsys):
    out = tmp_path / "q"
    assert main(["quantize", "--model", str(trained / "snn" / "model.pt"), "--bits", "4",
                 "--per-channel", "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["bits"] == 4 and summary["per_channel"] is True
    assert summary["accuracy_drop"] == pytest.approx(
        summary["float_accuracy"] - summary["quantized_accuracy"])
    ckpt = torch.load(out / "model.pt", weights_only=True)
    for i, layer in enumerate(summary["layers"]):
        w = ckpt["state_dict"][f"fcs.{i}.weight"]
        ints = w / torch.tensor(layer["scale"]).view(-1, 1)
        assert torch.allclose(ints, ints.round(), atol=1e-4)  # scale x integer in [-7, 7]
        assert ints.abs().max().round() == layer["max_abs_int"] <= 7
    float_eval = tmp_path / "e"
    assert main(["eval", "--model", str(trained / "snn" / "model.pt"), "--out", str(float_eval),
                 "--quiet"]) == 0
    assert json.loads((float_eval / "summary.json").read_text())["test_accuracy"] == \
        summary["float_accuracy"]
    campaign = tmp_path / "f"  # the faults command rebuilds the integer model from the file
    assert main(["faults", "--model", str(out / "model.pt"), "--ber", "0", "--trials", "1",
                 "--out", str(campaign), "--quiet"]) == 0
    assert json.loads((campaign / "summary.json").read_text())["clean_accuracy"] == \
        summary["quantized_accuracy"]
    # quantizing twice, or to a width outside 2..16: one-line error, exit 2, nothing written
    for argv, needle in (([str(out / "model.pt"), "--bits", "8"], "already quantized to int4"),
                         ([str(trained / "snn" / "model.pt"), "--bits", "1"], "from 2 to 16")):
        assert main(["quantize", "--model", *argv, "--out", str(tmp_path / "bad")]) == 2
        assert needle in capsys.readouterr().err
        assert not (tmp_path / "bad").exists()
