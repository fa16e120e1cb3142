"""NIR in and out: hand-computed conversions, round trips against snnTorch's own NIR exporter
and importer (same spikes), export -> import -> export stability, refusals with exit 2."""

from __future__ import annotations

import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from spikeloom.cli.main import main
from spikeloom.errors import ConfigError, DataError
from spikeloom.snn import Checkpoint, build_model, load_checkpoint, save_checkpoint
from spikeloom.snn.activity import record_spikes
from spikeloom.spec import ModelConfig, TrainConfig

nir = pytest.importorskip("nir")
snn = pytest.importorskip("snntorch")
pytest.importorskip("nirtorch")

from snntorch.export_nir import export_to_nir  # noqa: E402
from snntorch.import_nir import import_from_nir  # noqa: E402

from spikeloom.interop.nir_export import layer_values, nir_graph  # noqa: E402
from spikeloom.interop.nir_import import model_from_nir, read_nir_file  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from snntorch_peer import snntorch_net, snntorch_spikes  # noqa: E402


def _spikes(cfg: ModelConfig, state: dict, x: torch.Tensor) -> list[torch.Tensor]:
    model = build_model(cfg)
    model.load_state_dict(state)
    return record_spikes(model.eval(), x)[1:]


def _input(T: int, B: int, D: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(T, B, D, generator=g) < 0.4).float()


def test_snntorch_export_imports_with_identical_spikes(tmp_path):
    net = snntorch_net()
    path = tmp_path / "net.nir"
    nir.write(str(path), export_to_nir(net, torch.randn(20)))
    imported = model_from_nir(read_nir_file(path), 1e-4, timesteps=30)
    x = _input(30, 64, 20)
    ours = _spikes(imported.model_config, imported.state_dict, x)
    theirs = snntorch_spikes(net, x)
    assert [int(s.sum()) for s in ours] == [int(s.sum()) for s in theirs]
    assert all(int(s.sum()) > 0 for s in theirs)  # the comparison is not between silent nets
    for a, b in zip(ours, theirs):
        assert torch.equal(a, b)
    assert [r["beta"] for r in imported.layers] == [float(np.float32(b)) for b in (0.9, 0.8, 0.95)]
    assert all(r["gain"] == 1.0 and r["gain_snapped_to_1"] for r in imported.layers)
    # weights copied bit for bit
    assert torch.equal(imported.state_dict["fcs.0.weight"], net[0].weight.detach())


def test_spikeloom_export_imports_into_snntorch_with_identical_spikes():
    cfg = ModelConfig(topology=(20, 16, 12, 5), timesteps=30, threshold=0.6, beta=0.85,
                      reset="zero", bias=True)
    torch.manual_seed(3)
    model = build_model(cfg).eval()
    with torch.no_grad():
        model.lifs[1].beta.fill_(0.7)  # layers may differ (per-layer buffers)
    graph = nir_graph(cfg, layer_values(model), dt=1e-4)
    net = import_from_nir(graph)
    x = _input(30, 64, 20, seed=2)
    ours = record_spikes(model, x)[1:]
    theirs = snntorch_spikes(net, x)
    assert all(int(s.sum()) > 0 for s in theirs)
    for a, b in zip(ours, theirs):
        assert torch.equal(a, b)


def _ckpt(cfg: ModelConfig, seed: int = 0) -> Checkpoint:
    torch.manual_seed(seed)
    return Checkpoint(cfg, TrainConfig(epochs=0), build_model(cfg).state_dict())


def _graph_arrays(path) -> dict[str, np.ndarray]:
    out = {}
    with h5py.File(path, "r") as f:
        f["node"].visititems(lambda k, v: out.__setitem__(k, v[()]) if isinstance(v, h5py.Dataset) else None)
    return out


@pytest.mark.parametrize("kind", ["LIF", "IF", "LI readout"])
def test_export_import_export_is_stable(tmp_path, kind):
    beta, readout = {"LIF": (0.9, "count"), "IF": (1.0, "count"), "LI readout": (0.8, "membrane")}[kind]
    cfg = ModelConfig(topology=(12, 9, 4), timesteps=7, threshold=0.8, beta=beta, reset="zero",
                      encoding="latency", readout=readout, bias=kind == "LI readout")
    (tmp_path / "a").mkdir()
    save_checkpoint(tmp_path / "a" / "model.pt", _ckpt(cfg))
    assert main(["export", "--model", str(tmp_path / "a"), "--out", str(tmp_path / "e1"), "--quiet"]) == 0
    assert main(["import", "--nir", str(tmp_path / "e1" / "model.nir"), "--out", str(tmp_path / "b"),
                 "--quiet"]) == 0
    assert main(["export", "--model", str(tmp_path / "b"), "--out", str(tmp_path / "e2"), "--quiet"]) == 0
    one, two = _graph_arrays(tmp_path / "e1" / "model.nir"), _graph_arrays(tmp_path / "e2" / "model.nir")
    assert one.keys() == two.keys()
    for k in one:
        assert np.array_equal(one[k], two[k]), k
    back = load_checkpoint(tmp_path / "b" / "model.pt")
    # the config's scalars come back as the float32 the layers hold
    assert back.model_config == cfg.replace(threshold=float(np.float32(cfg.threshold)),
                                            beta=float(np.float32(cfg.beta)))
    # dt, encoding and time steps come back from the graph's metadata
    assert (back.model_config.timesteps, back.model_config.encoding) == (7, "latency")
    for k, v in _ckpt(cfg).state_dict.items():
        assert torch.equal(back.state_dict[k], v), k


def test_subtractive_reset_refused_unless_allowed_then_exact(tmp_path, capsys):
    cfg = ModelConfig(topology=(10, 8, 3), timesteps=12, threshold=0.5, beta=0.9, reset="subtract")
    (tmp_path / "m").mkdir()
    save_checkpoint(tmp_path / "m" / "model.pt", _ckpt(cfg, seed=4))
    capsys.readouterr()
    assert main(["export", "--model", str(tmp_path / "m"), "--out", str(tmp_path / "no")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "subtract" in err and "--allow-subtract" in err
    assert not (tmp_path / "no").exists()
    assert main(["export", "--model", str(tmp_path / "m"), "--allow-subtract", "--out",
                 str(tmp_path / "yes"), "--quiet"]) == 0
    graph = nir.read(str(tmp_path / "yes" / "model.nir"))
    assert graph.metadata["reset_mode"] in ("subtract", b"subtract")
    imported = model_from_nir(read_nir_file(tmp_path / "yes" / "model.nir"))
    assert imported.model_config.reset == "subtract"
    x = _input(12, 16, 10, seed=5)
    ckpt = _ckpt(cfg, seed=4)
    for a, b in zip(_spikes(imported.model_config, imported.state_dict, x),
                    _spikes(cfg, ckpt.state_dict, x)):
        assert torch.equal(a, b)


def test_conversion_by_hand():
    # LIF tau = 2 ms, r = 3, v_leak = 0.1, dt = 1 ms: beta = 1 - 1/2 = 0.5,
    # gain = dt r / tau = 1.5, offset = dt v_leak / tau = 0.05: W' = 1.5 W, b' = 1.5 b + 0.05.
    # IF r = 2 at dt = 1 ms: beta = 1, gain = dt r = 0.002.
    w1 = np.array([[1.0, -2.0], [0.5, 0.25], [0.0, 4.0]], dtype=np.float32)
    b1 = np.array([0.2, 0.0, -0.4], dtype=np.float32)
    w2 = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    graph = nir.NIRGraph(nodes={
        "in": nir.Input(input_type={"input": np.array([2])}),
        "a": nir.Affine(weight=w1, bias=b1),
        "n": nir.LIF(tau=np.full(3, 2e-3), r=np.full(3, 3.0), v_leak=np.full(3, 0.1),
                     v_threshold=np.full(3, 0.7), v_reset=np.zeros(3)),
        "l": nir.Linear(weight=w2),
        "m": nir.IF(r=np.full(1, 2.0), v_threshold=np.full(1, 1.5), v_reset=np.zeros(1)),
        "out": nir.Output(output_type={"output": np.array([1])}),
    }, edges=[("in", "a"), ("a", "n"), ("n", "l"), ("l", "m"), ("m", "out")])
    imp = model_from_nir(graph, 1e-3)
    sd = imp.state_dict
    assert torch.allclose(sd["fcs.0.weight"], torch.tensor(1.5 * w1))
    assert torch.allclose(sd["fcs.0.bias"], torch.tensor(1.5 * b1 + 0.05))
    assert torch.allclose(sd["fcs.1.weight"], torch.tensor(0.002 * w2))
    assert torch.equal(sd["fcs.1.bias"], torch.zeros(1))  # Linear: no bias, no v_leak
    assert float(sd["lifs.0.beta"]) == 0.5 and float(sd["lifs.1.beta"]) == 1.0
    assert float(sd["lifs.0.threshold"]) == pytest.approx(0.7)
    assert imp.model_config.reset == "zero" and imp.model_config.bias


def _write_bad(kind: str, path) -> None:
    w = np.ones((3, 4), dtype=np.float32)
    lif = dict(tau=np.full(3, 1e-3), r=np.full(3, 10.0), v_leak=np.zeros(3),
               v_threshold=np.ones(3), v_reset=np.zeros(3))
    nodes = {"input": nir.Input(input_type={"input": np.array([4])}),
             "fc": nir.Linear(weight=w), "lif": nir.LIF(**lif),
             "output": nir.Output(output_type={"output": np.array([3])})}
    edges = [("input", "fc"), ("fc", "lif"), ("lif", "output")]
    if kind == "recurrent":
        nodes["rec"] = nir.Linear(weight=np.eye(3, dtype=np.float32))
        edges += [("lif", "rec"), ("rec", "lif")]
    elif kind == "convolution":
        nodes["fc"] = nir.Conv1d(input_shape=4, weight=np.ones((3, 1, 2), dtype=np.float32),
                                 stride=1, padding=0, dilation=1, groups=1, bias=np.zeros(3))
    elif kind == "per-neuron":
        nodes["lif"] = nir.LIF(**{**lif, "tau": np.array([1e-3, 2e-3, 1e-3])})
    if kind == "corrupt":
        path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"garbage" * 10)
        return
    nir.write(str(path), nir.NIRGraph(nodes=nodes, edges=edges, type_check=False))
    if kind == "unknown":
        with h5py.File(path, "r+") as f:
            del f["node/nodes/lif/type"]
            f["node/nodes/lif"].create_dataset("type", data="Hodgkin", dtype=h5py.string_dtype())


@pytest.mark.parametrize("kind,words", [
    ("recurrent", ["recurrent edge", "'lif'"]),
    ("convolution", ["'fc'", "Conv1d", "convolution"]),
    ("corrupt", ["not a readable NIR file"]),
    ("unknown", ["'lif'", "unknown type", "Hodgkin"]),
    ("missing-dt", ["'lif'", "--dt"]),
    ("per-neuron", ["'lif'", "per-neuron time constants"]),
])
def test_bad_nir_files_give_one_line_and_exit_2(tmp_path, capsys, kind, words):
    path = tmp_path / "bad.nir"
    _write_bad("plain" if kind == "missing-dt" else kind, path)
    out = tmp_path / "out"
    args = ["import", "--nir", str(path), "--out", str(out)]
    if kind != "missing-dt":
        args += ["--dt", "1e-4"]
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ")
    for word in words:
        assert word in err, (word, err)
    assert not out.exists()  # nothing written


def test_cubalif_exact_only_without_synaptic_memory():
    def graph(alpha: float):
        syn = snn.Synaptic(alpha=torch.full((3,), alpha), beta=torch.full((3,), 0.9),
                           threshold=torch.ones(3), init_hidden=True, reset_mechanism="zero")
        torch.manual_seed(0)
        return export_to_nir(torch.nn.Sequential(torch.nn.Linear(4, 3), syn), torch.randn(4))

    imp = model_from_nir(graph(0.0), 1e-4)
    assert imp.layers[0]["neuron_type"] == "CubaLIF" and imp.layers[0]["gain"] == 1.0
    with pytest.raises(DataError, match="synaptic decay"):
        model_from_nir(graph(0.5), 1e-4)


def test_ann_and_bad_dt_refused():
    with pytest.raises(ConfigError, match="ANN"):
        nir_graph(ModelConfig(arch="ann", topology=(4, 2)), [])
    net = snntorch_net(sizes=(4, 3), betas=(0.9,))
    with pytest.raises(DataError, match="exceeds tau"):
        model_from_nir(export_to_nir(net, torch.randn(4)), 1.0)


def test_reset_override_matches_snntorch_subtract_leaky():
    # snnTorch's exporter writes v_reset = 0 for its default subtractive Leaky as well;
    # --reset subtract (reset='subtract') recovers it spike for spike
    torch.manual_seed(5)
    net = torch.nn.Sequential(
        torch.nn.Linear(20, 16),
        snn.Leaky(beta=torch.full((16,), 0.9), threshold=torch.full((16,), 0.5), init_hidden=True),
        torch.nn.Linear(16, 5),
        snn.Leaky(beta=torch.full((5,), 0.8), threshold=torch.full((5,), 0.5), init_hidden=True,
                  output=True))
    graph = export_to_nir(net, torch.randn(20))
    x = _input(25, 32, 20, seed=9)
    theirs = snntorch_spikes(net, x)
    sub = model_from_nir(graph, 1e-4, reset="subtract")
    assert sub.model_config.reset == "subtract"
    for a, b in zip(_spikes(sub.model_config, sub.state_dict, x), theirs):
        assert torch.equal(a, b)
    zero = model_from_nir(graph, 1e-4)  # what the file says: reset to v_reset = 0
    assert zero.model_config.reset == "zero"
    assert not all(torch.equal(a, b) for a, b in
                   zip(_spikes(zero.model_config, zero.state_dict, x), theirs))


def test_snntorch_recurrent_layer_refused(tmp_path, capsys):
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), snn.RLeaky(
        beta=torch.full((3,), 0.9), linear_features=3, init_hidden=True, output=True))
    nir.write(str(tmp_path / "rnn.nir"), export_to_nir(net, torch.randn(4)))
    capsys.readouterr()
    assert main(["import", "--nir", str(tmp_path / "rnn.nir"), "--dt", "1e-4",
                 "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "recurrent edge" in err and "'1.lif'" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()
