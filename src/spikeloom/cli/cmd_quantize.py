"""spikeloom quantize: post-training quantization of a checkpoint to n-bit integer weights."""

from __future__ import annotations

import argparse
from pathlib import Path

from spikeloom.cli.common import (
    add_checkpoint_inputs,
    add_out,
    add_quiet,
    first_samples,
    load_checkpoint_inputs,
    say,
)
from spikeloom.io import prepare_out_dir, write_summary


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bits", type=int, default=8, help="signed integer bits per weight, 2..16 (default 8)")
    p.add_argument("--per-channel", action="store_true",
                   help="one scale per output neuron (default: one per layer)")
    add_checkpoint_inputs(p)
    add_out(p)
    add_quiet(p)


def _layer_stats(qw) -> list[dict]:
    """Per layer: shape, scale(s), largest |integer| and share of zero weights."""
    return [{"layer": i + 1, "shape": list(q.shape),
             "scale": s.tolist(), "max_abs_int": int(q.abs().max()),
             "zero_fraction": float((q == 0).float().mean())}
            for i, (q, s) in enumerate(zip(qw.q, qw.scale))]


def run(args: argparse.Namespace) -> int:
    from spikeloom.errors import ConfigError  # noqa: PLC0415
    from spikeloom.measure import evaluate  # noqa: PLC0415
    from spikeloom.quant import (  # noqa: PLC0415
        apply_quantized,
        check_bits,
        checkpoint_quantization,
        quantize_model,
        quantized_checkpoint,
    )
    from spikeloom.snn import save_checkpoint  # noqa: PLC0415

    ckpt, data, seeds, device = load_checkpoint_inputs(args)
    recorded = checkpoint_quantization(ckpt)
    if recorded is not None:
        raise ConfigError(f"{args.model} is already quantized to int{recorded.bits}; "
                          "give the float checkpoint that 'spikeloom train' wrote")
    bits = check_bits(args.bits)
    out = prepare_out_dir(args.out)
    model = ckpt.build(device)
    qw = quantize_model(model, bits, args.per_channel)
    x, y = first_samples(args, data.x_test, data.y_test)
    float_acc = evaluate(model, ckpt.model_config, x, y, seed=seeds["eval_seed"])
    quant_acc = evaluate(apply_quantized(model, qw), ckpt.model_config, x, y, seed=seeds["eval_seed"])
    path = save_checkpoint(Path(out) / "model.pt", quantized_checkpoint(ckpt, qw))
    write_summary(out, {
        "float_accuracy": float_acc, "quantized_accuracy": quant_acc,
        "accuracy_drop": float_acc - quant_acc, **qw.scheme, "layers": _layer_stats(qw),
        "dataset": data.name, "split": data.held_out, "samples": len(y), **seeds, "device": str(device), "model": str(args.model),
        "quantized_model": str(path), "model_config": ckpt.model_config.to_dict(),
    })
    say(args, f"{ckpt.model_config.name} int{bits} {'per-channel' if args.per_channel else 'per-tensor'}: "
              f"accuracy {float_acc:.4f} -> {quant_acc:.4f} on {data.name} -> {path}")
    return 0
