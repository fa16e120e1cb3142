"""`spikeloom search --train-method bptt convert`: converted SNNs of the STEP 0 ANN next to
BPTT ones, checked against the existing conversion function and commands."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from spikeloom.cli.main import main
from spikeloom.data import load_dataset
from spikeloom.errors import CheckpointError, ConfigError
from spikeloom.measure import validation_split
from spikeloom.search.candidates import Measurer
from spikeloom.search.config import SearchConfig
from spikeloom.snn.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from spikeloom.snn.models import build_model
from spikeloom.spec import ModelConfig, TrainConfig
from spikeloom.train.convert import ConvertConfig, convert, load_ann

SUBSET = 400
FAST = ["--epochs", "2", "--trials", "2", "--train-subset", str(SUBSET), "--quiet"]


def test_search_with_both_methods_converts_the_step0_ann(tmp_path, capsys):
    out = tmp_path / "s"
    argv = ["search", "--train-method", "bptt", "convert", "--timesteps", "8", "--thresholds", "1.0", "0.5",
            "--rule", "strict", "--tolerance", "0.5", "--out", str(out), *FAST]
    assert main(argv) == 0
    s = json.loads((out / "summary.json").read_text())
    by_name = {c["name"]: c for c in s["configs"]}
    assert list(by_name) == ["T8-th1", "T8-th0.5", "conv-T8-th1", "conv-T8-th0.5"]
    assert [c["method"] for c in s["configs"]] == ["bptt", "bptt", "convert", "convert"]
    assert s["train_methods"] == ["bptt", "convert"] and s["search_config"]["train_methods"] == ["bptt", "convert"]
    assert s["conversion"]["norm"] == "percentile" and s["conversion"]["percentile"] == 99.9
    assert "converted from the ANN" in (out / "report.html").read_text()
    conv = by_name["conv-T8-th1"]
    ckpt = load_checkpoint(conv["checkpoint"])
    assert ckpt.model_config.beta == 1.0 and ckpt.model_config.threshold == 1.0
    assert load_checkpoint(by_name["T8-th1"]["checkpoint"]).model_config.beta == 0.95
    # the ANN was not retrained for the conversion: one ANN, trained once
    ann_path = out / "models" / "ann" / "model.pt"
    assert sorted(p.parent.name for p in (out / "models").rglob("model.pt")) == sorted(["ann", *by_name])

    # Independently: the existing conversion function on the selection split's training part
    # (the ANN's own 400 training samples), then the existing quantize / eval commands.
    data = load_dataset("digits")
    selection = validation_split(data, 0.15, 0)
    part = dataclasses.replace(selection, x_train=selection.x_train[:SUBSET], y_train=selection.y_train[:SUBSET])
    base = ModelConfig(arch="snn", topology=(64, 32, 10), timesteps=8, threshold=1.0, beta=1.0)
    ref = convert(load_ann(ann_path), base, TrainConfig(dataset="digits", seed=0), ConvertConfig(curve=(8,)),
                  part, torch.device("cpu"))
    assert ref.test_accuracy == pytest.approx(conv["accuracy_fp"], abs=1e-12)  # validation, fp32
    ref_path = save_checkpoint(tmp_path / "ref.pt", ref.checkpoint)
    assert main(["quantize", "--model", str(ref_path), "--bits", "8", "--split", "validation", "--seed", "0",
                 "--out", str(tmp_path / "q"), "--quiet"]) == 0
    q = json.loads((tmp_path / "q" / "summary.json").read_text())
    assert q["quantized_accuracy"] == pytest.approx(conv["accuracy"], abs=1e-12)
    assert main(["eval", "--model", str(ref_path), "--out", str(tmp_path / "e"), "--quiet"]) == 0
    e = json.loads((tmp_path / "e" / "summary.json").read_text())
    assert e["accuracy"] == pytest.approx(conv["test"]["accuracy_fp"], abs=1e-12)

    # theta = 0.5 scales every lambda: layer 1 gets W1 / lambda1 and layer 2 theta W2 lambda1 / lambda2
    # (threshold theta), with the lambdas computed here in numpy.
    ann = load_checkpoint(ann_path).state_dict
    w1, w2 = ann["fcs.0.weight"].double().numpy(), ann["fcs.1.weight"].double().numpy()
    x = part.x_train.double().numpy()
    h = np.maximum(x @ w1.T, 0)
    lam1, lam2 = np.percentile(h, 99.9), np.percentile(np.maximum(h @ w2.T, 0), 99.9)
    half = load_checkpoint(by_name["conv-T8-th0.5"]["checkpoint"])
    assert half.model_config.threshold == 0.5
    np.testing.assert_allclose(half.state_dict["fcs.0.weight"].double().numpy(), w1 / lam1, rtol=1e-5)
    np.testing.assert_allclose(half.state_dict["fcs.1.weight"].double().numpy(), 0.5 * w2 * lam1 / lam2,
                               rtol=1e-5)


def test_default_method_keeps_names_and_fingerprints(tmp_path):
    scfg = SearchConfig()
    assert scfg.train_methods == ("bptt",)
    data = load_dataset("digits")
    m = Measurer(scfg, validation_split(data, 0.15, 0), tmp_path)
    cfg = ModelConfig(topology=(64, 32, 10))
    assert set(m._fingerprint(cfg)) == {"model", "train", "bits", "precision", "val_fraction"}
    assert m._fingerprint(cfg, "convert")["ann"] == m._fingerprint(ModelConfig(arch="ann", topology=(64, 32, 10)))


def test_convert_refuses_an_ann_it_cannot_convert(tmp_path):
    data = load_dataset("digits")
    m = Measurer(SearchConfig(train_methods=("convert",)), validation_split(data, 0.15, 0), tmp_path)
    snn = ModelConfig(topology=(64, 32, 10))
    (tmp_path / "models" / "ann").mkdir(parents=True)
    save_checkpoint(tmp_path / "models" / "ann" / "model.pt",
                    Checkpoint(snn, TrainConfig(), build_model(snn).state_dict()))
    with pytest.raises(CheckpointError, match="must be an ANN checkpoint"):
        m.measure("conv-T10-th1", snn.replace(beta=1.0), campaign=False, method="convert")
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("methods", [(), ("convert", "convert"), ("sgd",)])
def test_bad_method_lists(methods):
    with pytest.raises(ConfigError, match="--train-method"):
        SearchConfig(train_methods=methods)


def test_convert_does_not_combine_with_a_starting_snn():
    with pytest.raises(ConfigError, match="does not combine with --model"):
        SearchConfig(start="runs/snn/model.pt", train_methods=("bptt", "convert"))


@pytest.mark.parametrize("argv, needle", [
    (["search", "--train-method", "sgd"], "invalid choice: 'sgd'"),
    (["search", "--train-method", "convert", "--strategy", "optuna"], "--strategy grid only"),
    (["search", "--train-method", "bptt", "bptt"], "each once"),
])
def test_search_bad_method_input(tmp_path, capsys, argv, needle):
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and needle in err
    assert not (tmp_path / "o").exists()
