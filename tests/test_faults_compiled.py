"""The compiled (numba) fault engine: spike for spike the model's own clean pass, and per-trial
accuracies equal to the reference engine on both of its paths (sparse and dense), for reset
modes, biases, encodings, per-channel scales and every fault model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("numba")

from spikeloom.data.protocol import eval_batches  # noqa: E402
from spikeloom.faults import (  # noqa: E402
    CampaignConfig,
    compiled,  # noqa: E402
    run_campaign,
)
from spikeloom.faults.compiled import CompiledEngine  # noqa: E402
from spikeloom.faults.delta import DeltaEngine  # noqa: E402
from spikeloom.faults.fast import make_engine  # noqa: E402
from spikeloom.faults.injection import LayerFaults  # noqa: E402
from spikeloom.quant import apply_quantized, quantize_model  # noqa: E402
from spikeloom.snn import build_model  # noqa: E402
from spikeloom.snn.activity import record_spikes  # noqa: E402
from spikeloom.spec import ModelConfig, TrainConfig  # noqa: E402
from spikeloom.train import fit  # noqa: E402

CONFIGS = {
    "subtract": ModelConfig(topology=(64, 20, 16, 10), timesteps=9),
    "zero-bias": ModelConfig(topology=(64, 18, 10), timesteps=7, reset="zero", bias=True,
                             threshold=0.6),
    "latency": ModelConfig(topology=(64, 24, 10), timesteps=8, encoding="latency"),
}


@pytest.fixture(scope="module")
def trained(digits):
    return {name: fit(cfg, TrainConfig(epochs=1, seed=5, lr=1e-2), digits).checkpoint
            for name, cfg in CONFIGS.items()}


def _bits_to_trains(bits: np.ndarray, steps: int) -> torch.Tensor:
    """[N, H] uint64 masks -> [T, N, H] 0/1 spikes."""
    t = np.arange(steps, dtype=np.uint64)
    return torch.from_numpy(((bits[None] >> t[:, None, None]) & np.uint64(1)).astype(np.float32))


@pytest.mark.parametrize("name, samples", [(name, 200) for name in CONFIGS] + [("subtract", 1100)])
def test_clean_pass_is_the_models_own_spikes(trained, digits, name, samples):
    """200 samples: one evaluation chunk; 1100: three, each rate-coded from its own seed."""
    ckpt = trained[name]
    cfg, model = ckpt.model_config, ckpt.build()
    qw = quantize_model(model, 8)
    qmodel = apply_quantized(model, qw)
    reps = -(-samples // len(digits.y_test))
    x, y = digits.x_test.repeat(reps, 1)[:samples], digits.y_test.repeat(reps)[:samples]
    engine = CompiledEngine(qmodel, cfg, qw, x, y, eval_seed=2)
    x_seq = torch.cat([b for _, b in eval_batches(cfg, x, 2)], dim=1)
    with torch.no_grad():
        spikes = record_spikes(qmodel, x_seq)
    for layer, expected in zip(engine.layers, spikes[1:]):
        assert torch.equal(_bits_to_trains(layer.bits, cfg.timesteps), expected)
    assert engine.clean_pred.tolist() == qmodel(x_seq).argmax(1).tolist()


@pytest.mark.parametrize("path", ["sparse", "dense"])
@pytest.mark.parametrize("name, fault, per_channel", [
    ("subtract", "bitflip", False), ("subtract", "stuck-at-0", True),
    ("subtract", "saturated", False), ("zero-bias", "bitflip", True),
    ("zero-bias", "dead", False), ("zero-bias", "threshold", False), ("latency", "bitflip", False),
])
def test_equals_reference_trial_by_trial(trained, digits, monkeypatch, path, name, fault,
                                         per_channel):
    monkeypatch.setattr(compiled, "DENSE_FRACTION", 0.0 if path == "dense" else 1e9)
    ckpt = trained[name]
    x, y = digits.x_test[:160], digits.y_test[:160]
    runs = {}
    for engine in ("reference", "fast"):
        cc = CampaignConfig(bers=(1e-3, 2e-2, 0.2), trials=3, scope="both", engine=engine,
                            fault=fault, per_channel=per_channel, threshold_factor=0.4)
        runs[engine] = run_campaign(ckpt.build(), ckpt.model_config, x, y, cc, eval_seed=3)
    ref, fast = runs["reference"], runs["fast"]
    assert ref.clean_accuracy == fast.clean_accuracy
    assert [r.accuracies for r in ref.results] == [r.accuracies for r in fast.results]
    assert min(min(r.accuracies) for r in ref.results) < ref.clean_accuracy  # faults did bite


def test_sparse_path_equals_dense_resimulation(trained, digits, monkeypatch):
    """One high bit flipped on a busy synapse: the pairs the sparse path simulates (the rest it
    rules out by its bound) change exactly as in a dense re-simulation of every pair."""
    ckpt = trained["subtract"]
    cfg, model = ckpt.model_config, ckpt.build()
    qw = quantize_model(model, 8)
    engine = CompiledEngine(apply_quantized(model, qw), cfg, qw, digits.x_test, digits.y_test)
    layer, n = engine.layers[0], len(digits.y_test)
    busy = int(layer.fmax_t.sum(1).argmax())  # the input that spikes most
    q = torch.tensor(layer.q, dtype=torch.int64)
    q[3, busy] = q[3, busy] ^ 64
    faults = LayerFaults(1, q=q)

    def changed() -> set[tuple[int, int]]:
        cnt, idx, _ = engine._layer(layer, faults, compiled._no_changes(n))
        return {(s, int(idx[s, e])) for s in range(n) for e in range(cnt[s])}

    sparse = changed()
    monkeypatch.setattr(compiled, "DENSE_FRACTION", 0.0)
    dense = changed()
    assert sparse == dense and dense
    assert {i for _, i in dense} == {3}  # only the faulty neuron changes


def test_engine_choice(trained, digits):
    x, y = digits.x_test[:40], digits.y_test[:40]
    ckpt = trained["subtract"]
    model, qw = ckpt.build(), quantize_model(ckpt.build(), 8)
    engine = make_engine("auto", apply_quantized(model, qw), ckpt.model_config, qw, x, y)
    assert isinstance(engine, CompiledEngine)
    cfg = ckpt.model_config.replace(readout="membrane")  # no spikes at the output: delta engine
    mem = build_model(cfg)
    qm = quantize_model(mem, 8)
    assert isinstance(make_engine("auto", apply_quantized(mem, qm), cfg, qm, x, y), DeltaEngine)
