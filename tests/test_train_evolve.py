"""Evolution: seeded runs reproduce, the best fitness never decreases, resuming equals running
through, the exported checkpoint computes what the genome computes, bad settings exit 2."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from spikeloom.cli.main import main
from spikeloom.errors import ConfigError
from spikeloom.hw.importers import graph_from_tennlab
from spikeloom.measure import graph_from_checkpoint
from spikeloom.spec import ModelConfig
from spikeloom.train.evolve import (
    OPERATORS,
    EvolveConfig,
    Genome,
    Prototypes,
    crossover,
    evolve,
    fitness,
    fitness_set,
    genome_model,
    mutate,
    new_neuron,
    random_genome,
)

BASE = ModelConfig(topology=(64, 4, 10), timesteps=6, threshold=1.0, beta=0.9)
SMALL = dict(population=6, tournament=2, init_hidden=4, fitness_samples=120, crossover=0.5, workers=1)


def _histories(run):
    return [(h["best_fitness"], h["best_accuracy"], h["best_synapses"]) for h in run.history]


def test_seeded_reproducible_monotone_and_resumable(digits, tmp_path):
    ec = EvolveConfig(generations=4, **SMALL)
    a = evolve(BASE, ec, digits, seed=5)
    b = evolve(BASE, ec.replace(workers=2), digits, seed=5)  # worker count does not matter
    assert _histories(a) == _histories(b)
    best = [h["best_fitness"] for h in a.history]
    assert len(best) == 5 and all(y >= x for x, y in zip(best, best[1:]))
    # stop after 2 generations, then resume to 4 from the state file: same as straight through
    path = tmp_path / "state.pt"
    evolve(BASE, ec.replace(generations=2), digits, seed=5, state_path=path)
    resumed = evolve(BASE, ec, digits, seed=5, state_path=path)
    assert _histories(resumed) == _histories(a)
    g1, g2 = a.population[a.best], resumed.population[resumed.best]
    assert np.array_equal(g1.w1, g2.w1) and np.array_equal(g1.thr_o, g2.thr_o)
    other = evolve(BASE, ec, digits, seed=6)
    assert _histories(other) != _histories(a)


def test_fitness_is_the_exported_models_accuracy(digits):
    rng = np.random.default_rng(0)
    ec = EvolveConfig(**SMALL)
    g = random_genome(rng, 64, 10, ec)
    for _ in range(20):
        g = mutate(g, rng, ec)
    g = crossover(g, random_genome(rng, 64, 10, ec), rng, ec.max_hidden)
    inputs, labels = fitness_set(digits, BASE, ec, seed=1)
    fit, acc = fitness(g, inputs, labels, BASE, penalty=0.01)
    assert fit == pytest.approx(acc - 0.01 * (g.m1.sum() + g.m2.sum()))
    # independent forward pass in numpy: LIF, subtractive reset, thresholds thr (not folded)
    x = inputs.double().numpy()
    w1, w2 = g.w1 * g.m1, g.w2 * g.m2
    mem1, spk1 = np.zeros((x.shape[1], g.hidden)), np.zeros((x.shape[1], g.hidden))
    mem2, spk2 = np.zeros((x.shape[1], 10)), np.zeros((x.shape[1], 10))
    counts = np.zeros((x.shape[1], 10))
    for t in range(x.shape[0]):
        mem1 = 0.9 * mem1 + x[t] @ w1.T - spk1 * g.thr_h
        spk1 = (mem1 > g.thr_h).astype(float)
        mem2 = 0.9 * mem2 + spk1 @ w2.T - spk2 * g.thr_o
        spk2 = (mem2 > g.thr_o).astype(float)
        counts += spk2
    top = counts == counts.max(1, keepdims=True)
    ours = float((top[np.arange(len(top)), labels.numpy()] / top.sum(1)).mean())
    assert acc == pytest.approx(ours, abs=2.0 / len(labels))  # float32 vs float64: at most a sample or two
    cfg, model = genome_model(g, BASE)
    assert cfg.topology == (64, g.hidden, 10)


def test_cli_evolve_checkpoint_maps_and_exports_to_tennlab(tmp_path):
    out = tmp_path / "ev"
    rc = main(["train", "--method", "evolve", "--topology", "64-4-10", "--timesteps", "6",
               "--population", "6", "--generations", "2", "--fitness-samples", "100",
               "--workers", "1", "--out", str(out), "--quiet"])
    assert rc == 0
    s = json.loads((out / "summary.json").read_text())
    assert [h["generation"] for h in s["history"]] == [0, 1, 2]
    assert main(["export", "--model", str(out), "--format", "tennlab", "--out", str(out / "x"), "--quiet"]) == 0
    g_ckpt = graph_from_checkpoint(out / "model.pt")
    g_json = graph_from_tennlab(json.loads((out / "x" / "network.json").read_text()))
    # the mapper sees exactly the evolved synapses of hidden neurons that both receive and send
    state = torch.load(out / "model.pt", weights_only=True)["state_dict"]
    w1, w2 = state["fcs.0.weight"] != 0, state["fcs.1.weight"] != 0
    live = w1.any(1) & w2.any(0)
    assert int(w1.sum() + w2.sum()) == s["synapses"]
    assert len(g_ckpt.edges) == len(g_json.edges) == int(w1[live].sum() + w2[:, live].sum())
    assert main(["eval", "--model", str(out / "model.pt"), "--quiet"]) == 0


def test_empty_population_and_bad_topology(tmp_path, capsys):
    with pytest.raises(ConfigError, match="population"):
        EvolveConfig(population=0)
    rc = main(["train", "--method", "evolve", "--population", "0", "--out", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: --population 0") and err.count("\n") == 1
    rc = main(["train", "--method", "evolve", "--topology", "64-8-8-10", "--out", str(tmp_path), "--quiet"])
    assert rc == 2 and "D-H-C" in capsys.readouterr().err
    assert not (tmp_path / "model.pt").exists()


def test_genome_round_trip():
    rng = np.random.default_rng(3)
    g = random_genome(rng, 8, 3, EvolveConfig(**SMALL))
    back = Genome.from_dict({k: v.clone() for k, v in g.to_dict().items()})
    assert all(np.array_equal(getattr(g, k), getattr(back, k)) for k in ("w1", "m1", "w2", "m2", "thr_h", "thr_o"))
    assert isinstance(g.to_dict()["w1"], torch.Tensor)


def test_prototype_neuron_copies_an_image():
    """init='samples': a new neuron's input synapses sit on the image's fan_in pixels furthest
    from the mean image, with weights (image - mean) scaled to rms threshold * gain / sqrt(fan_in),
    and it excites its image's class output."""
    x = torch.tensor([[1.0, 0.0, 0.5, 0.2, 0.9], [0.0, 1.0, 0.5, 0.2, 0.1]])
    protos = Prototypes.of(x, torch.tensor([2, 0]))
    ec = EvolveConfig(fan_in=2, out_synapses=1, init_hidden=4, init_gain=0.5, **{
        k: v for k, v in SMALL.items() if k not in ("init_hidden",)})
    for seed in range(6):
        w1, m1, w2, m2, thr = new_neuron(np.random.default_rng(seed), 5, 3, ec, protos)
        # mean image (0.5, 0.5, 0.5, 0.2, 0.5): |x - mean| is 0.5, 0.5, 0, 0, 0.4 for either image
        assert m1.tolist() == [True, True, False, False, False]
        k = 0 if w1[0] > 0 else 1  # which image was copied: image 0 has +0.5, -0.5 on pixels 0, 1
        assert w1[:2] == pytest.approx(np.array([0.5, -0.5]) * (1 if k == 0 else -1) / 0.5 * 0.5 / np.sqrt(2) * thr)
        assert (w1[2:] == 0).all() and 0.5 <= thr <= 2.0
        label = (2, 0)[k]
        assert m2[label] and w2[label] >= 0.5 / np.sqrt(4)  # |N(0, s2)| + s2 with s2 = 0.5 / sqrt(4)
        assert m2.sum() in (1, 2) and (w2[~m2] == 0).all()


def test_weight_operator_moves_every_weight_of_one_neuron_only():
    ec = EvolveConfig(**SMALL).replace(init="random")
    rng = np.random.default_rng(4)
    g = random_genome(rng, 16, 3, ec)
    ops = {"h": 0, "o": 0}
    for seed in range(40):
        r = np.random.default_rng(seed)
        if OPERATORS[int(r.integers(len(OPERATORS)))] != "weight":
            continue
        child = mutate(g, np.random.default_rng(seed), ec)
        d1, d2 = child.w1 != g.w1, child.w2 != g.w2
        assert np.array_equal(child.m1, g.m1) and np.array_equal(child.m2, g.m2)
        assert not (d1 & ~g.m1).any() and not (d2 & ~g.m2).any()  # absent synapses stay exact zeros
        rows1, rows2 = np.flatnonzero(d1.any(1)), np.flatnonzero(d2.any(1))
        assert len(rows1) + len(rows2) == 1  # one neuron's incoming weights ...
        if len(rows1):
            assert np.array_equal(d1[rows1[0]], g.m1[rows1[0]])  # ... all of them
            ops["h"] += 1
        else:
            assert np.array_equal(d2[rows2[0]], g.m2[rows2[0]])
            ops["o"] += 1
    assert ops["h"] and ops["o"]
