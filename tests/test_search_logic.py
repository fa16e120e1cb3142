"""Algorithm 1 bookkeeping and the Pareto front, on hand-made measurements."""

from __future__ import annotations

import pytest

from spikeloom.errors import ConfigError
from spikeloom.measure import reliability_at
from spikeloom.search.candidates import Measurement
from spikeloom.search.config import SearchConfig
from spikeloom.search.pareto import dominates, pareto_front
from spikeloom.search.staged import select, widened_grid
from spikeloom.spec import ModelConfig


def _m(name, acc, rel, energy, arch="snn", t=10, th=1.0):
    cfg = ModelConfig(arch=arch, topology=(64, 32, 10), timesteps=t, threshold=th)
    return Measurement(name=name, model_config=cfg.to_dict(), accuracy=acc, accuracy_fp=acc,
                       energy_pj=energy, ops_per_sample=energy, train_seconds=0.0, checkpoint="",
                       reliability_pct=rel)


def test_stages_candidate_lists_and_best():
    scfg = SearchConfig(timesteps=(10, 30), thresholds=(0.5, 1.5), rule="strict")
    ann = _m("ann", 0.95, 90.0, 100.0, arch="ann")
    measured = [
        _m("low-acc", 0.90, None, 10.0),        # fails accuracy: never gets a campaign
        _m("fragile", 0.96, 80.0, 20.0),        # fails reliability
        _m("hungry", 0.95, 95.0, 150.0),        # passes reliability, fails energy
        _m("good", 0.955, 92.0, 40.0),          # candidate
        _m("better", 0.95, 91.0, 30.0),         # candidate with the lowest energy -> selected
    ]
    r = select(scfg, ann, measured, start=0.0)
    assert [m.stage for m in r.configs] == ["accuracy", "reliability", "energy", "candidate", "selected"]
    assert [m.name for m in r.candidate_list1] == ["hungry", "good", "better"]
    assert [m.name for m in r.candidate_list2] == ["better", "good"]
    assert r.best.name == "better" and r.verdict == "PASS" and r.proposal is None
    only = select(scfg.replace(lowest_energy_only=True), ann, measured, start=0.0)
    assert [m.name for m in only.candidate_list2] == ["better"]
    # tolerance lets a slightly less accurate SNN through the accuracy stage
    loose = select(scfg.replace(tolerance=0.06), ann, [_m("x", 0.90, 99.0, 1.0)], start=0.0)
    assert loose.best.name == "x"


def test_fail_proposes_wider_grid():
    scfg = SearchConfig(timesteps=(10, 30), thresholds=(0.5, 1.5), rule="strict")
    ann = _m("ann", 0.95, 90.0, 100.0, arch="ann")
    r = select(scfg, ann, [_m("a", 0.5, None, 1.0)], start=0.0)
    assert r.verdict == "FAIL" and r.best is None
    assert r.proposal == widened_grid(scfg) == {"timesteps": [5, 10, 30, 60],
                                                "thresholds": [0.25, 0.5, 1.5, 2.25]}
    d = r.to_dict()
    assert d["verdict"] == "FAIL" and d["best"] is None and d["configs"][0]["reliability_pct"] is None


def test_pareto_front_by_hand():
    assert dominates((1, 1, -1), (1, 0, -1)) and not dominates((1, 1, -1), (1, 1, -1))
    points = [("a", 0.9, 90.0, 10.0), ("b", 0.95, 80.0, 10.0), ("c", 0.9, 85.0, 20.0),
              ("d", 0.8, 95.0, 50.0), ("e", 0.9, None, 5.0)]
    # c is dominated by a (same accuracy, lower reliability, more energy); others are not.
    assert pareto_front(points) == ["a", "b", "d", "e"]


def test_reliability_prefers_model_scope():
    campaign = {"results": [
        {"scope": "model", "ber": 0.01, "reliability_pct": 91.0},
        {"scope": "layer:0", "ber": 0.01, "reliability_pct": 95.0},
        {"scope": "layer:1", "ber": 0.01, "reliability_pct": 97.0},
        {"scope": "model", "ber": 0.1, "reliability_pct": 50.0}]}
    assert reliability_at(campaign, 0.01) == 91.0
    layers_only = {"results": [r for r in campaign["results"] if r["scope"] != "model"]}
    assert reliability_at(layers_only, 0.01) == 96.0


@pytest.mark.parametrize("kwargs, needle", [
    ({"timesteps": ()}, "empty search grid"),
    ({"thresholds": ()}, "empty search grid"),
    ({"ber": 1.5}, "outside [0, 1]"),
    ({"scope": "chip"}, "unknown scope"),
    ({"topology": "64-x"}, "malformed topology"),
])
def test_bad_search_configs(kwargs, needle):
    with pytest.raises(ConfigError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        SearchConfig(**kwargs)


def _campaign(accs, clean=0.9, ber=0.01):
    return {"clean_accuracy": clean, "results": [{"scope": "model", "ber": ber, "accuracies": accs,
                                                  "reliability_pct": 100 * sum(accs) / len(accs) / clean}]}


def test_stat_rule_keeps_what_is_not_shown_worse():
    """Validation correctness strings and paired trials decide; a 0.5-point accuracy loss on
    200 samples is not distinguishable, a 10-point loss is worse."""
    scfg = SearchConfig(timesteps=(10,), thresholds=(1.0,))
    ann_flags = "1" * 180 + "0" * 20
    ann = _m("ann", 0.9, 90.0, 100.0, arch="ann").replace(correct=ann_flags, campaign=_campaign([0.81] * 4))
    close = _m("close", 0.895, 91.0, 10.0).replace(correct="0" + "1" * 178 + "0" * 21,
                                                   campaign=_campaign([0.85, 0.86, 0.87, 0.86]))
    poor = _m("poor", 0.80, None, 5.0).replace(correct="1" * 160 + "0" * 40)
    r = select(scfg, ann, [close, poor], start=0.0)
    stages = {m.name: m.stage for m in r.configs}
    assert stages == {"close": "selected", "poor": "accuracy"}
    comp = {m.name: m.comparisons for m in r.configs}
    assert comp["close"]["accuracy"]["verdict"] == "not distinguishable"
    assert comp["close"]["reliability"]["verdict"] == "better"  # +5.6 points, t-interval above 0
    assert comp["poor"]["accuracy"]["verdict"] == "worse" and comp["poor"]["reliability"] is None
    strict = select(scfg.replace(rule="strict"), ann, [close, poor], start=0.0)
    assert {m.name: m.stage for m in strict.configs}["close"] == "accuracy"  # 0.895 < 0.9
