"""Bring your own model: a snnTorch-trained 784-128-64-10 network, exported with snnTorch's NIR
exporter, goes through `spikeloom import`, `eval`, `faults`, `energy`, `explain` and
`map --model`; the figures are checked against snnTorch's own forward pass on the same input.

Fashion-MNIST is not needed: a small random IDX set in its layout stands in (`--data-dir`)."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from spikeloom.cli.main import main

nir = pytest.importorskip("nir")
snn = pytest.importorskip("snntorch")
pytest.importorskip("nirtorch")

from snntorch import utils as snn_utils  # noqa: E402
from snntorch.export_nir import export_to_nir  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from snntorch_peer import leaky, snntorch_spikes  # noqa: E402

STEPS, TEST = 8, 24


def _idx(path: Path, arr: np.ndarray) -> None:
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    path.write_bytes(struct.pack(">BBBB", 0, 0, 8, arr.ndim)
                     + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes())


def _fake_fashion(folder: Path) -> None:
    rng = np.random.default_rng(0)
    for split, n in (("train", 32), ("t10k", TEST)):
        _idx(folder / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        _idx(folder / f"{split}-labels-idx1-ubyte", rng.integers(0, 10, n))


def _trained_snntorch_net() -> torch.nn.Module:
    """784-128-64-10, a few Adam steps on rate-coded random data (training is snnTorch's)."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(784, 128), leaky(128, 0.9),
                              torch.nn.Linear(128, 64), leaky(64, 0.9),
                              torch.nn.Linear(64, 10), leaky(10, 0.9, output=True))
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    x, y = torch.rand(32, 784), torch.randint(0, 10, (32,))
    for _ in range(3):
        snn_utils.reset(net)
        count = sum(net((torch.rand(32, 784) < x).float())[0] for _ in range(STEPS))
        loss = torch.nn.functional.cross_entropy(count, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


def _summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def test_snntorch_model_through_every_command(tmp_path):
    from spikeloom.data import load_dataset
    from spikeloom.data.protocol import eval_batches
    from spikeloom.snn import load_checkpoint

    data = tmp_path / "fashion"
    data.mkdir()
    _fake_fashion(data)
    net = _trained_snntorch_net()
    nir.write(str(tmp_path / "net.nir"), export_to_nir(net, torch.randn(784)))

    model = tmp_path / "imported"
    assert main(["import", "--nir", str(tmp_path / "net.nir"), "--dt", "1e-4", "--timesteps",
                 str(STEPS), "--out", str(model), "--quiet"]) == 0
    pt = str(model / "model.pt")
    common = ["--data-dir", str(data), "--quiet"]
    assert main(["eval", "--model", pt, *common, "--out", str(tmp_path / "eval")]) == 0
    assert main(["faults", "--model", pt, *common, "--ber", "1e-3", "--trials", "2",
                 "--engine", "reference", "--out", str(tmp_path / "faults")]) == 0
    assert main(["energy", "--model", pt, *common, "--out", str(tmp_path / "energy")]) == 0
    assert main(["explain", "--model", pt, *common, "--methods", "raster,psth,rules",
                 "--profile-samples", str(TEST), "--rules-fit-samples", "32",
                 "--out", str(tmp_path / "explain")]) == 0
    assert main(["map", "--model", pt, "--crossbars", "homogeneous:1024x1024",
                 "--prune-threshold", "0.05", "--time-limit", "5", "--no-figure", "--quiet",
                 "--out", str(tmp_path / "map")]) == 0

    # snnTorch's own forward pass on the inputs the commands fed (same encoding, same seed)
    ckpt = load_checkpoint(pt)
    cfg, seed = ckpt.model_config, ckpt.train_config.seed
    ds = load_dataset("fashion-mnist", data)
    (_, seq), = list(eval_batches(cfg, ds.x_test, seed))
    trains = [seq, *snntorch_spikes(net, seq)]  # snnTorch's forward: input, layers 1..3
    predicted = trains[-1].sum(0).argmax(1)
    accuracy = float((predicted == ds.y_test).float().mean())
    assert _summary(tmp_path / "eval")["test_accuracy"] == pytest.approx(accuracy, abs=1e-7)
    assert _summary(tmp_path / "faults")["float_accuracy"] == pytest.approx(accuracy, abs=1e-7)

    energy = _summary(tmp_path / "energy")
    per_sample = [float(t.sum()) / TEST for t in trains]
    assert energy["spikes_per_layer"] == pytest.approx(per_sample, rel=1e-12)
    assert all(s > 0 for s in per_sample[:3])
    bench = energy["neurobench"]
    slots = [t[0, 0].numel() * STEPS * TEST for t in trains[1:]]
    spikes = [float(t.sum()) for t in trains[1:]]
    assert bench["activation_sparsity"] == pytest.approx(1 - sum(spikes) / sum(slots), rel=1e-12)
    weights = [m.weight.detach() for m in net if isinstance(m, torch.nn.Linear)]
    effective = sum(float(t.sum(dim=(0, 1)).double() @ (w != 0).sum(0).double())
                    for t, w in zip(trains[:3], weights)) / TEST
    assert bench["synaptic_operations"]["Effective_ACs"] == pytest.approx(effective, rel=1e-12)
    assert bench["synaptic_operations"]["Dense"] == STEPS * (784 * 128 + 128 * 64 + 64 * 10)

    explain = _summary(tmp_path / "explain")
    assert [p["sample"] for p in explain["predictions"]] == [0]
    assert explain["model_config"]["topology"] == [784, 128, 64, 10]

    stats = _summary(tmp_path / "map")["network_stats"]
    kept = [(w.abs() > 0.05) for w in weights]
    edges = {(f"L{i}:{a}", f"L{i + 1}:{b}") for i, k in enumerate(kept) for b, a in k.nonzero().tolist()}
    sources, targets = {e[0] for e in edges}, {e[1] for e in edges}
    # idle neurons (inputs that drive nothing; hidden ones without an in- or out-synapse) are left out
    live = {f"L0:{i}" for i in range(784)} & sources
    live |= {f"L{la}:{i}" for la, n in ((1, 128), (2, 64)) for i in range(n)} & sources & targets
    live |= {f"L3:{i}" for i in range(10)}
    assert stats["nodes"] == len(live)
    assert stats["edges"] == sum(1 for a, b in edges if a in live and b in live)
    assert _summary(tmp_path / "map")["valid"]


@pytest.fixture(scope="module")
def imported_digits(tmp_path_factory):
    """A snnTorch 64-16-10 net trained briefly on digits, exported to NIR and imported."""
    from spikeloom.data import load_dataset

    folder = tmp_path_factory.mktemp("byom-search")
    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Linear(64, 16), leaky(16, 0.9, 0.5),
                              torch.nn.Linear(16, 10), leaky(10, 0.9, 0.5, output=True))
    data = load_dataset("digits")
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for step in range(30):
        idx = torch.arange(step * 32, step * 32 + 32) % len(data.x_train)
        snn_utils.reset(net)
        x = data.x_train[idx]
        count = sum(net((torch.rand_like(x) < x).float())[0] for _ in range(STEPS))
        loss = torch.nn.functional.cross_entropy(count, data.y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    nir.write(str(folder / "net.nir"), export_to_nir(net, torch.randn(64)))
    assert main(["import", "--nir", str(folder / "net.nir"), "--dt", "1e-4", "--timesteps", str(STEPS),
                 "--out", str(folder / "imported"), "--quiet"]) == 0
    return net, folder / "imported" / "model.pt"


def _configs(out: Path) -> dict:
    return {c["name"]: c for c in _summary(out)["configs"]}


def test_search_starts_from_an_imported_model(tmp_path, imported_digits):
    """`search --model`: the imported SNN is measured as it is (its validation accuracy is
    snnTorch's on the same inputs), and with --epochs 0 each grid SNN is its weights at the
    grid's (T, theta); with --epochs 1 the grid SNNs are fine-tuned from those weights."""
    import hashlib

    from spikeloom.data import load_dataset
    from spikeloom.data.protocol import eval_batches
    from spikeloom.measure.splits import validation_split
    from spikeloom.snn import load_checkpoint

    net, pt = imported_digits
    start = load_checkpoint(pt)
    theta = start.model_config.threshold
    assert theta == pytest.approx(0.5)
    out = tmp_path / "search"
    assert main(["search", "--model", str(pt), "--timesteps", str(STEPS), "--thresholds", "0.5", "1.0",
                 "--epochs", "0", "--trials", "2", "--out", str(out), "--quiet"]) == 0
    configs = _configs(out)
    assert set(configs) == {"start", f"T{STEPS}-th0.5", f"T{STEPS}-th1"}
    assert _summary(out)["search_config"]["topology"] == "64-16-10"

    sel = validation_split(load_dataset("digits"), 0.15, 0)
    correct = 0
    for idx, seq in eval_batches(start.model_config, sel.x_test, 0):
        correct += int((snntorch_spikes(net, seq)[-1].sum(0).argmax(1) == sel.y_test[idx]).sum())
    assert configs["start"]["accuracy_fp"] == pytest.approx(correct / len(sel.y_test), abs=1e-7)
    assert configs["start"]["accuracy_fp"] > 0.3  # snnTorch's training learned something
    assert configs[f"T{STEPS}-th0.5"]["accuracy_fp"] == configs["start"]["accuracy_fp"]
    for name, th in ((f"T{STEPS}-th0.5", 0.5), (f"T{STEPS}-th1", 1.0)):
        grid = load_checkpoint(configs[name]["checkpoint"])
        assert grid.model_config == start.model_config.replace(threshold=th)
        for key, value in start.state_dict.items():
            if key.startswith("fcs."):
                assert torch.equal(grid.state_dict[key], value)
            else:  # neuron parameters are the grid's
                assert torch.equal(grid.state_dict[key], torch.tensor(th if key.endswith("threshold")
                                                                      else start.model_config.beta))

    tuned = tmp_path / "tuned"
    assert main(["search", "--model", str(pt.parent), "--timesteps", str(STEPS), "--thresholds", "0.5",
                 "--epochs", "1", "--trials", "2", "--out", str(tuned), "--quiet"]) == 0
    digest = hashlib.sha256(pt.read_bytes()).hexdigest()
    grid = load_checkpoint(_configs(tuned)[f"T{STEPS}-th0.5"]["checkpoint"])
    assert grid.train_config.init_sha256 == digest and grid.epoch == 1
    assert not torch.equal(grid.state_dict["fcs.0.weight"], start.state_dict["fcs.0.weight"])
    ann = load_checkpoint(tuned / "models" / "ann" / "model.pt")
    assert ann.train_config.init_sha256 is None  # the reference ANN trains from scratch


@pytest.mark.parametrize("extra, message", [
    (["--topology", "64-32-10"], "differs from the starting model's 64-16-10"),
    (["--strategy", "optuna"], "--model starts the grid search"),
])
def test_search_from_model_bad_input(tmp_path, capsys, imported_digits, extra, message):
    _, pt = imported_digits
    out = tmp_path / "out"
    assert main(["search", "--model", str(pt), "--epochs", "0", "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_search_from_an_ann_is_refused(tmp_path, capsys):
    from spikeloom.snn import Checkpoint, build_model, save_checkpoint
    from spikeloom.spec import ModelConfig, TrainConfig

    cfg = ModelConfig(arch="ann", topology=(64, 16, 10))
    save_checkpoint(tmp_path / "ann.pt", Checkpoint(cfg, TrainConfig(), build_model(cfg).state_dict()))
    assert main(["search", "--model", str(tmp_path / "ann.pt"), "--out", str(tmp_path / "out")]) == 2
    assert "is an ANN; a search starts from an SNN" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
