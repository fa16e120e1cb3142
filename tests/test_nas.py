"""Architecture search: pinned numbers for SAHD, hypervolume, Pareto fronts, correlations;
space validation; compression; budget-exact multi-worker studies; the CLI."""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from spikeloom.errors import ConfigError
from spikeloom.search.nas.compress import memory_bits, prune_masks
from spikeloom.search.nas.fidelity import pareto_ranks, promotion, rank_correlation
from spikeloom.search.nas.hypervolume import hypervolume, non_dominated
from spikeloom.search.nas.objectives import Evaluation, parse_objectives
from spikeloom.search.nas.proxy import logabsdet, sahd_kernel
from spikeloom.search.nas.space import NasSpace, architecture_at, load_space, space_from_dict

# ---------------------------------------------------------------- SAHD


def slow_sahd(layers: list[np.ndarray]) -> float:
    """Plain-loop reference of the issue's definition. layers: [T, B, N] 0/1 arrays."""
    B = layers[0].shape[1]
    K = [[0.0] * B for _ in range(B)]
    count = 0
    for spikes in layers:
        for t in range(spikes.shape[0]):
            x = spikes[t]
            N = x.shape[1]
            r = [sum(x[i]) / N for i in range(B)]
            for i in range(B):
                for j in range(B):
                    h = sum(1 for n in range(N) if x[i][n] != x[j][n])
                    norm = r[i] * (1 - r[j]) + (1 - r[i]) * r[j]
                    K[i][j] += N - (0.5 / (norm + 1e-3)) * h
            count += 1
    return float(np.linalg.slogdet(np.array(K) / count)[1])


def test_sahd_by_hand_2x2():
    x = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])  # T=1, B=2, N=2
    # r = (0.5, 0.5), norm = 0.5 everywhere, Hamming(0,1) = 2: K01 = 2 - 2 * 0.5 / 0.501
    k01 = 2 - 1 / 0.501
    assert sahd_kernel([x]) == pytest.approx(np.array([[2, k01], [k01, 2]]))
    assert logabsdet(sahd_kernel([x])) == pytest.approx(math.log(4 - k01 ** 2))


def test_sahd_matches_slow_reference():
    rng = np.random.default_rng(3)
    layers = [(rng.random((3, 6, n)) < p).astype(float) for n, p in ((7, 0.3), (5, 0.6))]
    fast = logabsdet(sahd_kernel([torch.tensor(a) for a in layers]))
    assert fast == pytest.approx(slow_sahd(layers), rel=1e-9)


# ---------------------------------------------------------------- hypervolume and fronts


def test_hypervolume_by_hand():
    assert hypervolume([(1, 3), (2, 2), (3, 1)], (4, 4)) == pytest.approx(6.0)
    assert hypervolume([(1, 1, 1)], (2, 2, 2)) == pytest.approx(1.0)
    # boxes 2x2x1 and 1x1x2 overlapping in a unit cube: 4 + 2 - 1
    assert hypervolume([(0, 0, 1), (1, 1, 0)], (2, 2, 2)) == pytest.approx(5.0)
    assert hypervolume([(5, 0)], (4, 4)) == 0.0  # outside the reference box


def test_hypervolume_agrees_with_optuna():
    from optuna._hypervolume import compute_hypervolume

    rng = np.random.default_rng(0)
    for dims in (2, 3, 4):
        pts = rng.random((15, dims))
        ref = np.ones(dims) * 1.1
        assert hypervolume(pts.tolist(), ref.tolist()) == pytest.approx(compute_hypervolume(pts, ref), rel=1e-9)


def test_non_dominated_brute_force():
    rng = random.Random(1)
    pts = [tuple(rng.randint(0, 6) for _ in range(3)) for _ in range(40)]
    got = {pts[i] for i in non_dominated(pts)}
    brute = {p for p in pts if not any(all(a <= b for a, b in zip(q, p)) and q != p for q in pts)}
    assert got == brute
    ranks = pareto_ranks(pts)
    assert {p for p, r in zip(pts, ranks) if r == 0} == brute


def test_promotion_order():
    # best by (rank, -score); then one random extra
    assert promotion([1, 0, 0, 2], [0.1, 0.2, 0.9, 0.5], promote=2, validate=0) == [2, 1]
    picked = promotion([1, 0, 0, 2], [0.1, 0.2, 0.9, 0.5], promote=2, validate=1, seed=0)
    assert picked[:2] == [2, 1] and picked[2] in (0, 3)


def test_rank_correlation_known_ranking():
    out = rank_correlation([1, 2, 3, 4, 5], [1, 3, 2, 4, 5])
    assert out["n"] == 5
    assert out["kendall_tau"] == pytest.approx(0.8)  # 9 concordant, 1 discordant pair of 10
    assert out["spearman"] == pytest.approx(0.9)     # 1 - 6 * 2 / (5 * 24)
    assert rank_correlation([1, 2], [1, 2])["kendall_tau"] is None


# ---------------------------------------------------------------- space


@pytest.mark.parametrize("data, words", [
    ({"depth": [6]}, "outside"),
    ({"widths": []}, "empty"),
    ({"colour": ["red"]}, "unknown dimension"),
    ({"reset": ["explode"]}, "unknown choice"),
    ({"bits": [1]}, "outside"),
    ({"depth": [1, 3], "widths": [[8], [16]]}, "one list per hidden layer"),
    ({"timesteps": ["ten"]}, "not an integer"),
    ({"library": ["nonsense"]}, "crossbar library"),
])
def test_invalid_space_is_one_line(data, words):
    with pytest.raises(ConfigError) as exc:
        space_from_dict(data)
    assert words in str(exc.value) and "\n" not in str(exc.value)


def test_space_files(tmp_path):
    good = tmp_path / "s.yaml"
    good.write_text("depth: [1]\nwidths: [8, 16]\nbits: [4]\n")
    space = load_space(good)
    assert space.depth == (1,) and space.widths == ((8, 16),) and space.bits == (4,)
    bad = tmp_path / "b.yaml"
    bad.write_text("depth: [1\n")
    for path in (bad, tmp_path / "missing.json"):
        with pytest.raises(ConfigError) as exc:
            load_space(path)
        assert "\n" not in str(exc.value)


def test_grid_enumerates_distinct_architectures():
    space = space_from_dict({"depth": [1, 2], "widths": [8, 16], "timesteps": [4], "threshold": [1.0],
                             "beta": [0.9], "reset": ["subtract"], "bits": [4, 8], "sparsity": [0.0],
                             "library": ["homogeneous:16x16", "homogeneous:32x32"]})
    # depth 1: 2 widths x 2^2 bits; depth 2: 4 widths x 2^3 bits; x 2 libraries
    assert space.grid_size() == (2 * 4 + 4 * 8) * 2
    keys = {architecture_at(space, i).key for i in range(space.grid_size())}
    assert len(keys) == space.grid_size()
    assert NasSpace().grid_size() > 0


def test_objectives_parse():
    assert parse_objectives("accuracy, area") == ("accuracy", "area")
    for bad in ("accuracy,speed", "", "area,area"):
        with pytest.raises(ConfigError):
            parse_objectives(bad)


# ---------------------------------------------------------------- compression


def test_structured_pruning_by_hand():
    w1 = torch.tensor([[1.0, 0.1, 3.0, 0.0], [1.0, 0.1, 3.0, 0.0], [0.0, 0.0, 0.0, 0.0]])  # [3, 4]
    w2 = torch.tensor([[1.0, 5.0, 2.0]])  # [1, 3]
    masks = prune_masks([w1, w2], [0.5, 1 / 3])
    # layer 1 keeps the two strongest inputs (2 and 0); layer 2 drops input 0 (norm 1)
    assert masks[1].tolist() == [[False, True, True]]
    assert masks[0].tolist() == [[False] * 4, [True, False, True, False], [True, False, True, False]]
    assert memory_bits(masks, [4, 8]) == 4 * 4 + 2 * 8
    capped = prune_masks([w1, w2], [0.0, 0.0], max_inputs=1)
    assert capped[0].sum(1).max() == 1 and capped[1].sum() == 1


def test_finetune_only_recovers_pruning_and_anneals(tmp_path, monkeypatch, digits):
    from spikeloom.quant import quantize_tensor
    from spikeloom.search.nas.compress import finetune_masked, prunes_anything
    from spikeloom.search.nas.objectives import EvalSettings, evaluate_architecture
    from spikeloom.search.nas.space import Architecture
    from spikeloom.snn.checkpoint import load_checkpoint
    from spikeloom.snn.models import build_model
    from spikeloom.spec import ModelConfig, TrainConfig

    ones = [torch.ones(3, 4, dtype=torch.bool)]
    assert not prunes_anything(ones) and prunes_anything([ones[0].clone().fill_(False)])
    # unpruned: the compressed network is exactly the quantized trained one (no fine-tune)
    arch = Architecture(hidden=(8,), timesteps=3, threshold=1.0, beta=0.9, reset="subtract",
                        surrogate="fast_sigmoid", slope=25.0, encoding="rate", bits=(8, 8), sparsity=(0.0, 0.0),
                        library="homogeneous:64x64")
    settings = EvalSettings(epochs=1, train_subset=200, finetune_epochs=2, lr_schedule="cosine")
    ev = evaluate_architecture(arch, digits, settings, tmp_path, ("accuracy",))
    trained = load_checkpoint(ev.checkpoint).state_dict
    compressed = load_checkpoint(Path(ev.checkpoint).with_name("compressed.pt")).state_dict
    for i in range(2):
        q, scale = quantize_tensor(trained[f"fcs.{i}.weight"], 8)
        assert torch.allclose(compressed[f"fcs.{i}.weight"], q.float() * scale)
    # cosine fine-tune: the last step's rate is lr/2 * (1 + cos(pi (S-1)/S)) / 2
    cfg = ModelConfig(arch="snn", topology=(64, 8, 10), timesteps=3)
    model = build_model(cfg)
    rates = []
    orig_step = torch.optim.Adam.step

    def spy(self, *a, **k):
        rates.append(self.param_groups[0]["lr"])
        return orig_step(self, *a, **k)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    masks = [torch.ones(8, 64, dtype=torch.bool), torch.ones(10, 8, dtype=torch.bool)]
    finetune_masked(model, cfg, TrainConfig(lr=0.01, batch_size=50, lr_schedule="cosine"),
                    digits.x_train[:100], digits.y_train[:100], masks, 2)
    assert rates == pytest.approx([0.005 * (1 + math.cos(math.pi * k / 4)) / 2 for k in range(4)])


# ---------------------------------------------------------------- studies


def _fake_eval(arch, data, settings, out, objectives, fidelity="full", low=None, progress=False, device=None):
    import time

    time.sleep(0.02)
    vals = {"accuracy": sum(arch.hidden) / 100.0, "area": float(arch.bits[0] * 10), "energy": 1.0,
            "latency": 1.0, "memory": 1.0, "routes": 1.0}
    return Evaluation(key=arch.key, fidelity=fidelity, architecture=arch.to_dict(), objectives=vals,
                      seconds=0.02, score=vals["accuracy"] if fidelity != "full" else None,
                      checkpoint=str(out / "models" / arch.key / "model.pt"))


def _worker(url: str, out: str, n: int) -> None:
    import spikeloom.search.nas.dispatch as dispatch
    import spikeloom.search.nas.study as study

    dispatch.evaluate_architecture = _fake_eval  # only ever in a forked child or under monkeypatch
    from spikeloom.data import load_dataset

    cfg = study.NasConfig(strategy="random", objectives=("accuracy", "area"), n_trials=n, seed=0)
    study.run_study(cfg, load_dataset("digits"), Path(out), url)


def test_two_workers_lose_and_duplicate_no_trial(tmp_path, monkeypatch):
    import optuna
    from optuna.trial import TrialState

    url = f"sqlite:///{tmp_path / 'study.db'}"
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_worker, args=(url, str(tmp_path), 8)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    names = optuna.study.get_all_study_names(url)
    study = optuna.load_study(study_name=names[0], storage=url)
    done = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(done) == 8
    assert len({t.number for t in done}) == 8
    assert all("evaluation" in t.user_attrs for t in done)
    # a third run with the same budget finds the study full and measures nothing new
    import spikeloom.search.nas.dispatch as dispatch

    monkeypatch.setattr(dispatch, "evaluate_architecture", _fake_eval)
    _worker(url, str(tmp_path), 8)
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 8


def test_run_nas_front_is_non_dominated(tmp_path, monkeypatch, digits):
    import spikeloom.search.nas.dispatch as dispatch
    import spikeloom.search.nas.study as study

    monkeypatch.setattr(dispatch, "evaluate_architecture", _fake_eval)
    cfg = study.NasConfig(strategy="tpe", objectives=("accuracy", "area"), n_trials=12, seed=1,
                          fidelity=study.FidelityConfig(kind="low", promote=3, validate=2))
    result = study.run_nas(cfg, digits, tmp_path)
    summary = study.summarize(result, tmp_path, export=False)
    pts = [(-e.objectives["accuracy"], e.objectives["area"]) for e in result.final]
    front = {pts[i] for i in result.front}
    assert front == {p for p in pts if not any(all(a <= b for a, b in zip(q, p)) and q != p for q in pts)}
    assert summary["proxy_correlation"]["n"] == len(result.final) <= 5
    assert 0 <= summary["hypervolume"]["value"] <= 1
    assert {"architecture", "objectives"} <= set(summary["pareto"][0])


# ---------------------------------------------------------------- CLI


@pytest.mark.parametrize("extra, words", [
    (["--objectives", "accuracy,speed"], "unknown objective"),
    (["--space", "/nonexistent.yaml"], "does not exist"),
    (["--n-trials", "0"], "--n-trials"),
    (["--objectives", "energy,area"], "must include accuracy"),
    (["--storage", "nosuchdb://x"], "cannot open study storage"),
])
def test_cli_bad_inputs_exit_2(tmp_path, capsys, extra, words):
    from spikeloom.cli.main import main

    assert main(["nas", "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and words in err and "\n" not in err


def test_cli_end_to_end(tmp_path):
    from spikeloom.cli.main import main

    space = tmp_path / "space.json"
    space.write_text(json.dumps({"depth": [1], "widths": [8, 16], "timesteps": [3], "bits": [4, 8],
                                 "sparsity": [0.0, 0.5], "threshold": [1.0], "beta": [0.9],
                                 "reset": ["subtract"], "library": ["homogeneous:64x64"]}))
    out = tmp_path / "run"
    args = ["nas", "--dataset", "digits", "--space", str(space), "--strategy", "random", "--objectives",
            "accuracy,energy,area,memory", "--fidelity", "proxy", "--n-trials", "3", "--epochs", "1",
            "--train-subset", "200", "--promote", "2", "--validate", "1", "--map-time-limit", "0.2",
            "--seed", "0", "--out", str(out), "--quiet"]
    assert main(args) == 0
    s = json.loads((out / "summary.json").read_text())
    assert len(s["trials"]) == 3 and s["pareto"] and s["hypervolume"]["value"] is not None
    assert set(s["proxy_correlation"]) >= {"kendall_tau", "spearman", "n"}
    assert Path(s["pareto"][0]["checkpoint"]).is_file() and Path(s["pareto"][0]["mapping"]).is_file()
    assert (out / "report.html").is_file()
    assert main(args) == 0  # resumes: the study is full, evaluations come from the cache
    assert json.loads((out / "summary.json").read_text())["pareto"] == s["pareto"]


def test_nas_section_figures(tmp_path):
    from spikeloom.search.nas.report import nas_section

    ev = {"label": "a", "objectives": {"accuracy": 0.9, "area": 100.0}, "test_accuracy": 0.88}
    summary = {"objectives": ["accuracy", "area"], "trials": [ev], "promoted": [ev], "pareto": [ev],
               "strategy": "tpe", "fidelity": "proxy", "n_trials": 1, "seed": 0,
               "hypervolume": {"value": 0.5, "curve": [{"evaluations": 1, "seconds": 1.0, "hypervolume": 0.5}]},
               "proxy_correlation": {"evaluator": "sahd", "kendall_tau": None, "spearman": None, "n": 1,
                                     "pairs": [{"cheap": 3.0, "full_accuracy": 0.9}]}}
    section = nas_section(summary, tmp_path)
    assert [p.name for _, p in section.figures] == ["nas_pareto_area.png", "nas_hypervolume.png",
                                                     "nas_proxy_correlation.png"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for _, p in section.figures)
    assert "<table>" in section.body_html


def test_unmappable_candidates_are_pruned_not_counted(tmp_path, monkeypatch, digits):
    import spikeloom.search.nas.dispatch as dispatch
    import spikeloom.search.nas.study as study
    from spikeloom.errors import InfeasibleError

    def picky(arch, *a, **k):
        if arch.depth > 1:
            raise InfeasibleError("no mapping fits the available crossbar counts")
        return _fake_eval(arch, *a, **k)

    monkeypatch.setattr(dispatch, "evaluate_architecture", picky)
    space = space_from_dict({"depth": [1, 2], "widths": [8, 16]})
    cfg = study.NasConfig(strategy="random", objectives=("accuracy", "area"), n_trials=4, space=space)
    trials = study.run_study(cfg, digits, tmp_path)
    assert len(trials) == 4 and all(e.arch.depth == 1 for e in trials)


def test_rank_correlation_skips_missing_scores():
    out = rank_correlation([1, None, 2, float("-inf"), 3, 4], [1, 5, 2, 6, 3, 4])
    assert out["n"] == 4 and out["kendall_tau"] == pytest.approx(1.0)
