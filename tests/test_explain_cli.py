"""`spikeloom explain` and `explain_model` end to end on small digits models."""

from __future__ import annotations

import dataclasses
import json

import pytest

from spikeloom.cli.main import main


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain_models")
    snn, ann = root / "snn", root / "ann"
    assert main(["train", "--epochs", "3", "--timesteps", "6", "--out", str(snn), "--quiet"]) == 0
    assert main(["train", "--arch", "ann", "--epochs", "1", "--out", str(ann), "--quiet"]) == 0
    return {"snn": snn / "model.pt", "ann": ann / "model.pt"}


def test_explain_writes_figures_and_summary(checkpoints, tmp_path, capsys):
    out = tmp_path / "ex"
    argv = ["explain", "--model", str(checkpoints["snn"]), "--sample-ids", "0", "3",
            "--profile-samples", "200", "--rules-fit-samples", "400", "--out", str(out)]
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    methods = summary["methods"]
    assert set(methods) == {"raster", "psth", "membrane", "heatmap", "embedding", "saliency", "ig",
                            "sam", "occlusion", "ablation", "rules"}
    for name, entry in methods.items():
        assert entry["files"], name
        for f in entry["files"]:
            path = out / f
            assert path.is_file(), f
            if f.endswith(".png"):
                assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {"raster_s0.png", "raster_s3.png"} <= set(methods["raster"]["files"])
    assert 0 <= methods["rules"]["fidelity"] <= 1 and 1 <= methods["rules"]["depth"] <= 8
    for name in ("saliency", "ig", "sam", "occlusion"):
        assert 0 <= methods[name]["deletion_auc"] <= 1 and 0 <= methods[name]["insertion_auc"] <= 1
    assert set(summary["random"]) == {"deletion_auc", "insertion_auc"}
    assert summary["faithfulness"]["methods"]["random"] == summary["random"]
    assert summary["faithfulness"]["methods"]["ig"]["deletion_auc"] == methods["ig"]["deletion_auc"]
    assert summary["rules"]["fidelity"] == methods["rules"]["fidelity"]
    assert summary["rules"]["text"].startswith("|--- L1n")
    # on a trained model at least one method is clearly more faithful than chance
    best = min(methods[n]["deletion_auc"] for n in ("saliency", "ig", "sam", "occlusion"))
    assert best < summary["random"]["deletion_auc"] - 0.1
    assert [p["sample"] for p in summary["predictions"]] == [0, 3]
    text = capsys.readouterr().out
    assert "fidelity" in text and "random" in text and "deletion AUC" in text
    assert not list(out.glob(".*.tmp"))  # atomic writes left no temporary file


def test_explain_model_api_is_deterministic(checkpoints, digits, tmp_path):
    from spikeloom.explain import ExplainOptions, ExplainResult, explain_model
    from spikeloom.snn import load_checkpoint

    ckpt = load_checkpoint(checkpoints["snn"])
    opts = ExplainOptions(profile_samples=100, rules_fit_samples=200, random_repeats=2)
    runs = [explain_model(ckpt.build(), ckpt.model_config, digits, samples=(5,),
                          methods=("saliency", "sam", "rules"), out_dir=tmp_path / f"r{k}",
                          seed=7, options=opts) for k in range(2)]
    assert isinstance(runs[0], ExplainResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        runs[0].seed = 1  # type: ignore[misc]
    a, b = (r.to_dict() for r in runs)
    for key in ("methods", "faithfulness", "random", "predictions"):
        strip = lambda d: json.loads(json.dumps(d).replace(str(tmp_path), ""))  # noqa: E731
        assert strip(a[key]) == strip(b[key]), key
    assert runs[0].figures["faithfulness"].is_file() and runs[0].figures["rules"].is_file()
    assert set(runs[0].figures) == {"attributions_s5", "faithfulness", "rules"}


def test_ann_checkpoint_gets_the_methods_that_apply(checkpoints, tmp_path):
    out = tmp_path / "ann"
    assert main(["explain", "--model", str(checkpoints["ann"]), "--methods",
                 "saliency,ig,occlusion,ablation", "--profile-samples", "100",
                 "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["methods"]["ablation"]["layers"]["layer1"]["top_neurons"]
    assert "deletion_auc" in summary["methods"]["ig"]


@pytest.mark.parametrize("extra, needle", [
    (["--sample-ids", "0", "360"], "sample index 360 is outside the test split"),
    (["--sample-ids", "-1"], "sample index -1 is outside"),
    (["--methods", "saliency,shap"], "unknown method(s) shap"),
    (["--methods", ","], "unknown method(s) (none given)"),
    (["--rules-depth", "0"], "rules depth must be >= 1"),
    (["--dataset", "nope"], "unknown dataset"),
])
def test_bad_input_is_one_line_exit_2(checkpoints, tmp_path, capsys, extra, needle):
    out = tmp_path / "o"
    assert main(["explain", "--model", str(checkpoints["snn"]), *extra, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and needle in err
    assert not out.exists()


def test_ann_checkpoint_for_an_snn_only_method(checkpoints, tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["explain", "--model", str(checkpoints["ann"]), "--methods", "saliency,sam,raster",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sam,raster need a spiking model" in err
    assert not out.exists()
    assert main(["explain", "--model", str(tmp_path / "missing.pt"), "--out", str(out)]) == 2
    assert "not found" in capsys.readouterr().err
