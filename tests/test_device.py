"""The CUDA path: the fused LIF kernel, the encoders, quantization and the torch fault
engines run on the model's device and agree with themselves on the CPU where they must.
Skipped (with the reason) on machines without a CUDA GPU."""

from __future__ import annotations

import pytest
import torch

from spikeloom.data.encoders import encode, make_generator
from spikeloom.faults import CampaignConfig, run_campaign
from spikeloom.quant import apply_quantized, quantize_model
from spikeloom.snn.neuron import LIFParameters, lif_reference, lif_sequence
from spikeloom.spec import ModelConfig, TrainConfig
from spikeloom.train import fit

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
CUDA = torch.device("cuda")


def test_fused_lif_on_cuda_equals_the_reference_loop_and_the_cpu():
    gen = torch.Generator().manual_seed(0)
    current = torch.randn(20, 64, 33, generator=gen) * 0.8
    p = LIFParameters(beta=0.9, threshold=torch.full((33,), 0.7))
    cpu = lif_sequence(current, p)
    gpu_p = p._replace(threshold=p.threshold.to(CUDA))
    gpu = lif_sequence(current.to(CUDA), gpu_p)
    assert gpu.device.type == "cuda"
    assert torch.equal(gpu, lif_reference(current.to(CUDA), gpu_p)[0])
    assert torch.equal(gpu.cpu(), cpu)
    # training: the hand-written backward on the GPU matches autograd through the loop
    a = current.to(CUDA).requires_grad_()
    b = current.to(CUDA).requires_grad_()
    lif_sequence(a, gpu_p).sum().backward()
    lif_reference(b, gpu_p)[0].sum().backward()
    assert torch.allclose(a.grad, b.grad)


@pytest.mark.parametrize("encoding", ["rate", "latency", "direct"])
def test_encoders_stay_on_the_device(encoding):
    x = torch.rand(8, 16, device=CUDA)
    gen = make_generator(3, CUDA) if encoding == "rate" else None
    out = encode(x, encoding, 5, generator=gen)
    assert out.device.type == "cuda" and out.shape == (5, 8, 16)
    if encoding != "rate":  # deterministic encoders: the CPU's numbers
        assert torch.equal(out.cpu(), encode(x.cpu(), encoding, 5))


@pytest.fixture(scope="module")
def snn(digits):
    tcfg = TrainConfig(epochs=1, seed=3, lr=1e-2)
    return fit(ModelConfig(topology=(64, 24, 10), timesteps=6), tcfg, digits,
               device=CUDA).checkpoint


def test_quantization_on_cuda_equals_cpu(snn):
    model = snn.build(CUDA)
    on_gpu, on_cpu = quantize_model(model, 8), quantize_model(snn.build(), 8)
    assert all(torch.equal(a.cpu(), b) for a, b in zip(on_gpu.q, on_cpu.q))
    qmodel = apply_quantized(model, on_gpu)
    assert all(t.device.type == "cuda" for t in qmodel.state_dict().values())


@pytest.mark.parametrize("fault", ["bitflip", "dead", "threshold"])
def test_torch_engines_on_cuda_equal_the_reference_on_cuda(snn, digits, fault):
    x, y = digits.x_test[:200], digits.y_test[:200]
    runs = {}
    for engine in ("reference", "delta", "prefix", "batched"):
        cc = CampaignConfig(bers=(3e-3, 0.1), trials=3, scope="both", engine=engine, fault=fault)
        result = run_campaign(snn.build(CUDA), snn.model_config, x, y, cc, eval_seed=1)
        runs[engine] = [(r.scope, r.ber, r.accuracies) for r in result.results]
    assert runs["delta"] == runs["prefix"] == runs["reference"] == runs["batched"]
