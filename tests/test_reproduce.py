"""spikeloom reproduce --quick: every output written, numbers consistent with an independent
campaign on the saved model, resume reuses everything, bad input refused."""

from __future__ import annotations

import csv
import json

import pytest

from spikeloom.cli.main import main
from spikeloom.data import load_dataset
from spikeloom.faults import CampaignConfig, run_campaign
from spikeloom.snn import load_checkpoint


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("rq")
    assert main(["reproduce", "--quick", "--out", str(out), "--quiet"]) == 0
    return out


def test_quick_writes_figures_csv_and_table(quick):
    for fig in ("fig2_accuracy", "fig3_model_wise", "fig4_layer_wise", "fig5_energy"):
        assert (quick / f"digits_{fig}.png").read_bytes()[:4] == b"\x89PNG"
    s = json.loads((quick / "summary.json").read_text())
    rows = s["rows"]["digits"]
    assert [(r["topology"], r["model"]) for r in rows] == [
        (t, m) for t in ("Q0", "Q1") for m in ("C1", "C2", "C3", "C4", "ANN")]
    table = (quick / "table.md").read_text()
    assert "| digits | energy ratio ANN/SNN | Q1 (best config) |" in table
    with open(quick / "results.csv") as f:
        lines = list(csv.DictReader(f))
    ann = next(r for r in rows if r["topology"] == "Q0" and r["model"] == "ANN")
    c1 = next(r for r in rows if r["topology"] == "Q0" and r["model"] == "C1")
    ratio = next(float(v["value"]) for v in lines if v["topology"] == "Q0" and v["model"] == "C1"
                 and v["metric"] == "energy_ratio_ann_over_snn")
    assert ratio == pytest.approx(ann["energy_pj"] / c1["energy_pj"])
    # layer-wise only for C2 and the ANN (the paper's Fig. 4); one row per layer
    assert [len(r["layer_wise"] or []) for r in rows if r["topology"] == "Q1"] == [0, 3, 0, 0, 3]


def test_quick_numbers_match_an_independent_campaign(quick):
    row = json.loads((quick / "digits" / "Q1" / "C1" / "row.json").read_text())
    ckpt = load_checkpoint(quick / "digits" / "Q1" / "C1" / "model.pt")
    data = load_dataset("digits")
    cc = CampaignConfig(bers=(1e-2, 1e-1), trials=2, engine="reference")
    res = run_campaign(ckpt.build(), ckpt.model_config, data.x_test[:120], data.y_test[:120], cc)
    assert res.clean_accuracy == row["test_accuracy_int8"]
    assert [r.accuracies for r in res.results] == [tuple(m["accuracies"]) for m in row["model_wise"][2:]]
    # the SNNs train on their output membrane (Plan.snn_loss), the ANN on its logits
    assert ckpt.train_config.loss == "membrane"
    assert load_checkpoint(quick / "digits" / "Q1" / "ANN" / "model.pt").train_config.loss == "readout"


def test_quick_resumes_without_redoing(quick):
    stamp = (quick / "digits" / "Q0" / "ANN" / "row.json").stat().st_mtime_ns
    assert main(["reproduce", "--quick", "--out", str(quick), "--quiet"]) == 0
    assert (quick / "digits" / "Q0" / "ANN" / "row.json").stat().st_mtime_ns == stamp


def test_bad_topology_refused(tmp_path, capsys):
    assert main(["reproduce", "--quick", "--topologies", "TOP9", "--out", str(tmp_path / "x")]) == 2
    assert "TOP9" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
