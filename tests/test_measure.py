"""The measurement layer: the validation protocol, comparisons with confidence, energy of
pruned networks, named engines, and that selection never reads the test split."""

from __future__ import annotations

import math

import pytest
import torch

from spikeloom.data.registry import Dataset
from spikeloom.errors import ConfigError
from spikeloom.measure import (
    compare_accuracy,
    compare_paired,
    compare_strict,
    validation_split,
)
from spikeloom.measure.compare import mcnemar_p
from spikeloom.snn import build_model
from spikeloom.spec import ModelConfig


class Poison(torch.Tensor):
    """A tensor that fails any use: stands for a test split selection must not read."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        raise AssertionError(f"the test split was read ({getattr(func, '__name__', func)})")


def poisoned(data: Dataset) -> Dataset:
    return Dataset(data.name, data.x_train, data.y_train,
                   torch.Tensor._make_subclass(Poison, data.x_test.clone()),
                   torch.Tensor._make_subclass(Poison, data.y_test.clone()),
                   data.num_classes, data.source)


def test_poison_fails_when_read(digits):
    bad = poisoned(digits)
    with pytest.raises(AssertionError, match="test split was read"):
        len(bad.x_test)
    with pytest.raises(AssertionError, match="test split was read"):
        bad.y_test[:5]


def test_staged_and_optuna_selection_never_read_the_test_split(digits, tmp_path):
    pytest.importorskip("optuna")
    from spikeloom.search.config import SearchConfig
    from spikeloom.search.multiobjective import optuna_search
    from spikeloom.search.staged import report_test, staged_search

    scfg = SearchConfig(topology=(64, 16, 10), timesteps=(4,), thresholds=(1.0,), epochs=1, trials=2,
                        train_subset=300, rule="strict", tolerance=0.5)
    result = staged_search(scfg, poisoned(digits), tmp_path / "grid")  # would raise on a read
    assert result.ann.test is None and result.protocol["validation_samples"] == 216
    reported = report_test(result, digits, tmp_path / "grid")
    assert reported.ann.test["samples"] == 360 and reported.ann.accuracy == result.ann.accuracy
    assert [m.stage for m in reported.configs] == [m.stage for m in result.configs]
    (tmp_path / "mo").mkdir()
    mo = optuna_search(scfg, poisoned(digits), tmp_path / "mo", n_trials=2)
    assert len(mo.configs) == 2


def test_nas_evaluation_never_reads_the_test_split(digits, tmp_path):
    from spikeloom.search.nas.objectives import EvalSettings, evaluate_architecture
    from spikeloom.search.nas.space import Architecture

    arch = Architecture(hidden=(12,), timesteps=3, threshold=1.0, beta=0.9, reset="subtract",
                        surrogate="fast_sigmoid", slope=25.0, encoding="rate", bits=(8, 8),
                        sparsity=(0.5, 0.0), library="homogeneous:64x64")
    settings = EvalSettings(epochs=1, train_subset=200, fault_trials=2, ber=0.01, map_time_limit=0.2)
    ev = evaluate_architecture(arch, poisoned(digits), settings, tmp_path,
                               ("accuracy", "energy", "reliability", "area"))
    assert 0 < ev.objectives["accuracy"] <= 1 and ev.objectives["energy"] > 0


def test_validation_split_is_stratified_seeded_and_disjoint(digits):
    a = validation_split(digits, 0.2, seed=3)
    b = validation_split(digits, 0.2, seed=3)
    c = validation_split(digits, 0.2, seed=4)
    assert a.held_out == "validation" and len(a.x_test) == round(0.2 * len(digits.x_train))
    assert torch.equal(a.x_test, b.x_test) and not torch.equal(a.x_test, c.x_test)
    assert len(a.x_train) + len(a.x_test) == len(digits.x_train)
    rows = {tuple(r.tolist()) for r in a.x_train}
    assert not any(tuple(r.tolist()) in rows for r in a.x_test[:50])
    share = torch.bincount(a.y_test, minlength=10).float() / len(a.y_test)
    overall = torch.bincount(digits.y_train, minlength=10).float() / len(digits.y_train)
    assert (share - overall).abs().max() < 0.01  # stratified
    with pytest.raises(ConfigError, match="validation fraction"):
        validation_split(digits, 0.95)


def test_mcnemar_and_paired_accuracy_by_hand():
    # b = 10 (SNN right, ANN wrong), c = 2: p = 2 * sum_{i<=2} C(12, i) / 2^12 = 158 / 4096
    assert mcnemar_p(10, 2) == pytest.approx(158 / 4096)
    assert mcnemar_p(0, 0) == 1.0 and mcnemar_p(3, 3) == 1.0
    # beyond 1,023 discordant pairs (a float 2 ** n overflows): scipy's exact binomial test
    from scipy.stats import binomtest

    assert mcnemar_p(1000, 1100) == pytest.approx(binomtest(1000, 2100, 0.5).pvalue, rel=1e-9)
    assert mcnemar_p(600, 1500) == pytest.approx(binomtest(600, 2100, 0.5).pvalue, rel=1e-9)
    snn = [True] * 10 + [False] * 2 + [True] * 80 + [False] * 8
    ann = [False] * 10 + [True] * 2 + [True] * 80 + [False] * 8
    c = compare_accuracy(snn, ann, confidence=0.95)
    n, d = 100, 8 / 100
    se = math.sqrt(12 - 64 / n) / n
    assert c.diff == pytest.approx(d) and c.ci[0] == pytest.approx(d - 1.959964 * se, abs=1e-5)
    assert c.verdict == "better" and c.p_value == pytest.approx(158 / 4096)
    # one discordant pair each way: not distinguishable
    tie = compare_accuracy([True, False, True], [False, True, True])
    assert tie.verdict == "not distinguishable" and tie.passes
    worse = compare_accuracy(ann, snn)
    assert worse.verdict == "worse" and not worse.passes
    # a margin of 10 points turns the same evidence into 'not distinguishable'
    assert compare_accuracy(ann, snn, margin=0.10).verdict == "not distinguishable"


def test_paired_reliability_and_strict_rule_by_hand():
    snn, ann = [90.0, 92.0, 94.0], [80.0, 81.0, 85.0]  # diffs 10, 11, 9: mean 10, sd 1
    c = compare_paired("reliability", snn, ann, confidence=0.95)
    half = 4.302653 * 1.0 / math.sqrt(3)  # t(0.975, 2)
    assert c.diff == pytest.approx(10.0) and c.ci[1] == pytest.approx(10 + half, abs=1e-5)
    assert c.verdict == "better"
    one = compare_paired("reliability", [50.0], [90.0])
    assert one.verdict == "not distinguishable" and math.isinf(one.ci[0])
    assert compare_strict("accuracy", 0.90, 0.95, tolerance=0.06).verdict == "within tolerance"
    assert compare_strict("accuracy", 0.90, 0.95).verdict == "worse"


def test_engines_by_name(digits):
    from spikeloom.faults import CampaignConfig
    from spikeloom.measure import measure_reliability
    from spikeloom.spec import TrainConfig
    from spikeloom.train import fit

    cfg = ModelConfig(topology=(64, 16, 10), timesteps=4)
    model = fit(cfg, TrainConfig(epochs=1, train_subset=300), digits).checkpoint.build()
    x, y = digits.x_test[:80], digits.y_test[:80]
    runs = {}
    for engine in ("reference", "prefix", "delta", "compiled", "auto"):
        cc = CampaignConfig(bers=(0.02,), trials=3, engine=engine)
        runs[engine] = measure_reliability(model, cfg, x, y, cc)
    assert {e: r.engine for e, r in runs.items()} == {
        "reference": "reference", "prefix": "prefix", "delta": "delta", "compiled": "compiled",
        "auto": "compiled"}
    trials = {e: r.results[0].accuracies for e, r in runs.items()}
    assert all(t == trials["reference"] for t in trials.values())
    assert CampaignConfig(engine="fast").engine == "auto"  # the old name stays an alias
    with pytest.raises(ConfigError, match="unknown engine"):
        CampaignConfig(engine="turbo")
    direct = cfg.replace(encoding="direct")
    with pytest.raises(ConfigError, match="engine 'compiled' cannot run this model"):
        measure_reliability(build_model(direct), direct, x, y, CampaignConfig(trials=1, engine="compiled"))


def test_pruned_synapses_are_never_hit(digits):
    from spikeloom.faults import CampaignConfig, trial_faults
    from spikeloom.faults.trial import structural_zeros
    from spikeloom.quant import quantize_model

    cfg = ModelConfig(topology=(64, 16, 10), timesteps=4)
    model = build_model(cfg)
    qw = quantize_model(model)
    masks = [torch.rand(q.shape, generator=torch.Generator().manual_seed(i)) < 0.5 for i, q in enumerate(qw.q)]
    cc = CampaignConfig(bers=(0.1,), trials=1)
    faults = structural_zeros(trial_faults(qw, cfg, cc, "model", 0.1, 5), masks)
    for f in faults:
        assert not f.q[~masks[f.layer - 1]].any()
        kept = masks[f.layer - 1]
        assert not torch.equal(f.q[kept], qw.q[f.layer - 1][kept])  # stored synapses still hit


def test_sample_inputs_are_the_protocol_rows(digits):
    """Explanations encode a sample exactly as every evaluation does (its chunk's stream)."""
    from spikeloom.data.protocol import eval_batches, sample_inputs

    cfg = ModelConfig(topology=(64, 16, 10), timesteps=5)
    x = digits.x_train[:1200]  # three chunks
    whole = torch.cat([b for _, b in eval_batches(cfg, x, seed=7)], dim=1)
    ids = [0, 499, 500, 1100, 3]
    assert torch.equal(sample_inputs(cfg, x, ids, seed=7), whole[:, ids])
    ann = cfg.replace(arch="ann")
    assert torch.equal(sample_inputs(ann, x, ids), x[ids])


def test_explained_predictions_are_the_protocol_predictions(digits, tmp_path):
    from spikeloom.explain import explain_model
    from spikeloom.measure import predict
    from spikeloom.spec import TrainConfig
    from spikeloom.train import fit

    cfg = ModelConfig(topology=(64, 16, 10), timesteps=4)
    model = fit(cfg, TrainConfig(epochs=1, train_subset=300), digits).checkpoint.build()
    ids = (2, 7, 11)
    result = explain_model(model, cfg, digits, samples=ids, methods=("raster",), out_dir=tmp_path, seed=5)
    expected = predict(model, cfg, digits.x_test, seed=5)
    assert [p["predicted"] for p in result.predictions] == [int(expected[i]) for i in ids]
