"""Post-training quantization of ANN/SNN weights to signed n-bit integers (symmetric)."""

from __future__ import annotations

from spikeloom.quant.checkpoint import (
    build_checkpoint_model,
    checkpoint_quantization,
    quantized_checkpoint,
)
from spikeloom.quant.ptq import (
    MAX_BITS,
    MIN_BITS,
    QuantizedLinear,
    QuantizedWeights,
    apply_quantized,
    check_bits,
    dequantize,
    qmax,
    quantization_of,
    quantize_model,
    quantize_tensor,
)

__all__ = [
    "MAX_BITS", "MIN_BITS", "QuantizedLinear", "QuantizedWeights", "apply_quantized",
    "build_checkpoint_model", "check_bits", "checkpoint_quantization", "dequantize", "qmax",
    "quantization_of", "quantize_model", "quantize_tensor", "quantized_checkpoint",
]
