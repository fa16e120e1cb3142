"""NeuroBench-compatible metrics: by hand, and equal to the `neurobench` package's own figures
on the same network (snnTorch, imported into spikeloom through NIR) and the same data."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from spikeloom.energy.neurobench import (
    activation_sparsity,
    connection_sparsity,
    footprint_bytes,
    neurobench_metrics,
    synaptic_operations,
)


def test_metrics_by_hand():
    w1 = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0]])  # column non-zeros: 1, 0, 2
    w2 = np.array([[0.5, 0.0]])  # column non-zeros: 1, 0
    # 2 samples, 4 steps; input i non-zero 3, 5, 1 times; hidden neurons spiked 2 and 6 times
    ops = synaptic_operations([w1, w2], [np.array([3, 5, 1]), np.array([2, 6])], [False, True],
                              samples=2, timesteps=4)
    assert ops["Effective_MACs"] == (3 * 1 + 5 * 0 + 1 * 2) / 2  # 2.5, real-valued input
    assert ops["Effective_ACs"] == (2 * 1 + 6 * 0) / 2  # 1.0, spikes
    assert ops["Dense"] == 4 * (3 * 2 + 2 * 1)  # 32 per sample
    assert connection_sparsity([w1, w2]) == 4 / 8
    act = activation_sparsity([8, 1], [2 * 4 * 2, 2 * 4 * 1])
    assert act["per_layer"] == [1 - 8 / 16, 1 - 1 / 8]
    assert act["overall"] == 1 - 9 / 24
    assert footprint_bytes([torch.zeros(3, 2), torch.zeros(5, dtype=torch.float64)]) == 24 + 40


nb = pytest.importorskip("neurobench")
pytest.importorskip("nir")


@pytest.mark.parametrize("binary", [True, False])
def test_equal_to_neurobench_package(binary):
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.static import ConnectionSparsity, Footprint
    from neurobench.metrics.workload import (
        ActivationSparsity,
        ActivationSparsityByLayer,
        SynapticOperations,
    )
    from neurobench.models import SNNTorchModel, TorchModel
    from snntorch.export_nir import export_to_nir

    from spikeloom.interop.nir_import import model_from_nir
    from spikeloom.snn import build_model
    from spikeloom.snn.activity import record_spikes

    sys.path.insert(0, str(Path(__file__).parent))
    from snntorch_peer import snntorch_net

    net = snntorch_net()
    with torch.no_grad():  # zero weights: effective counts skip them
        net[0].weight[:, :5] = 0
        net[2].weight[3:7] = 0
    imported = model_from_nir(export_to_nir(net, torch.randn(20)), 1e-4)
    model = build_model(imported.model_config)
    model.load_state_dict(imported.state_dict)
    model.eval()

    steps, samples, dim = 9, 24, 20
    g = torch.Generator().manual_seed(7)
    x = (torch.rand(samples, steps, dim, generator=g) < 0.4).float()
    if not binary:
        x = x * torch.rand(samples, steps, dim, generator=g)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, torch.zeros(samples, dtype=torch.long)), batch_size=8)
    theirs = Benchmark(SNNTorchModel(net), loader, [], [], [
        [ConnectionSparsity], [ActivationSparsity, ActivationSparsityByLayer, SynapticOperations],
    ]).run(quiet=True)

    seq = x.transpose(0, 1)  # [T, B, D]
    trains = record_spikes(model, seq)
    counts = [t.sum(dim=(0, 1)).double() for t in trains]
    nonzero = (seq != 0).sum(dim=(0, 1)).double()
    ours = neurobench_metrics(model, [fc.weight for fc in model.fcs], counts, nonzero, binary,
                              samples, steps)
    ops = ours["synaptic_operations"]
    assert ops["Effective_ACs"] == theirs["SynapticOperations"]["Effective_ACs"]
    assert ops["Effective_MACs"] == theirs["SynapticOperations"]["Effective_MACs"]
    assert ops["Dense"] == theirs["SynapticOperations"]["Dense"]
    assert (ops["Effective_MACs"] > 0) == (not binary)
    assert ours["activation_sparsity"] == pytest.approx(theirs["ActivationSparsity"], abs=1e-12)
    assert ours["activation_sparsity_per_layer"] == pytest.approx(
        list(theirs["ActivationSparsityByLayer"].values()), abs=1e-12)
    assert round(ours["connection_sparsity"], 4) == theirs["ConnectionSparsity"]
    assert ours["connection_sparsity"] > 0
    # footprint: NeuroBench's metric applied to the spikeloom model itself
    assert ours["footprint_bytes"] == Footprint()(TorchModel(model))
