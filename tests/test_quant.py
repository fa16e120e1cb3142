"""Post-training quantization: numbers worked out by hand on small tensors."""

from __future__ import annotations

import pytest
import torch

from spikeloom.errors import ConfigError
from spikeloom.quant import (
    QuantizedLinear,
    apply_quantized,
    dequantize,
    qmax,
    quantization_of,
    quantize_model,
    quantize_tensor,
)
from spikeloom.snn import build_model
from spikeloom.spec import ModelConfig


def test_per_tensor_by_hand():
    w = torch.tensor([[0.4, -1.0], [0.25, 0.1]])
    q, s = quantize_tensor(w, bits=8)
    # scale = max|w| / 127 = 1/127; q = round(w * 127): 50.8 -> 51, 31.75 -> 32, 12.7 -> 13
    assert s.item() == pytest.approx(1 / 127)
    assert q.tolist() == [[51, -127], [32, 13]]
    assert torch.allclose(dequantize(q, s), torch.tensor([[51.0, -127], [32, 13]]) / 127)


def test_per_channel_and_low_bits_by_hand():
    w = torch.tensor([[0.25, -0.6], [2.0, 0.9]])
    q, s = quantize_tensor(w, bits=3, per_channel=True)  # qmax = 3, one scale per row
    assert qmax(3) == 3 and s.tolist() == pytest.approx([0.2, 2 / 3])
    assert q.tolist() == [[1, -3], [3, 1]]  # 0.25/0.2 = 1.25 -> 1; 0.9/(2/3) = 1.35 -> 1
    q2, s2 = quantize_tensor(torch.zeros(2, 3), bits=4)
    assert q2.abs().sum() == 0 and s2.item() == 1.0


@pytest.mark.parametrize("bits", [1, 17, 2.5])
def test_bad_bit_width(bits):
    with pytest.raises(ConfigError, match="bit width"):
        quantize_tensor(torch.ones(2, 2), bits=bits)


def test_quantized_model_computes_with_dequantized_ints():
    torch.manual_seed(0)
    cfg = ModelConfig(arch="ann", topology=(6, 5, 3))
    model = build_model(cfg).eval()
    qw = quantize_model(model, bits=4, per_channel=True)
    qmodel = apply_quantized(model, qw)
    assert all(isinstance(fc, QuantizedLinear) for fc in qmodel.fcs)
    assert not any(isinstance(fc, QuantizedLinear) for fc in model.fcs)  # original untouched
    x = torch.rand(7, 6)
    w0, w1 = qw.dequantized()
    expected = torch.relu(x @ w0.T) @ w1.T
    assert torch.allclose(qmodel(x), expected, atol=1e-6)
    assert int(qw.q[0].abs().max()) <= 7
    # the scheme is recorded: asking for another one is refused, the same one is returned
    assert quantization_of(qmodel).bits == 4
    with pytest.raises(ConfigError, match="already quantized to int4"):
        quantize_model(qmodel, bits=8)
    assert torch.equal(quantize_model(qmodel, bits=4, per_channel=True).q[1], qw.q[1])


def test_same_procedure_for_ann_and_snn():
    torch.manual_seed(1)
    snn = build_model(ModelConfig(topology=(8, 4, 3)))
    ann = build_model(ModelConfig(arch="ann", topology=(8, 4, 3)))
    ann.load_state_dict({k: v for k, v in snn.state_dict().items() if k.startswith("fcs.")})
    a, b = quantize_model(ann), quantize_model(snn)
    assert all(torch.equal(x, y) for x, y in zip(a.q, b.q))
