"""spikeloom faults: a fault-injection campaign on a checkpoint; writes DIR/summary.json
(clean_accuracy and per-scope, per-BER statistics) and DIR/trials.jsonl (every trial's seed and
accuracy; a re-run with the same flags resumes from it)."""

from __future__ import annotations

import argparse
from pathlib import Path

from spikeloom.cli.common import (
    add_checkpoint_inputs,
    add_engine,
    add_out,
    add_protect_bits,
    add_quiet,
    add_trials,
    first_samples,
    load_checkpoint_inputs,
    say,
    show_progress,
)
from spikeloom.cli.executor_flags import add_executor_arguments, executor_config
from spikeloom.io import prepare_out_dir, write_summary
from spikeloom.spec import MITIGATIONS

FAULT_CHOICES = ("bitflip", "stuck-at-0", "stuck-at-1", "dead", "saturated", "threshold")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_checkpoint_inputs(p, fault_seed=True)
    p.add_argument("--ber", type=float, nargs="+", default=[1e-4, 1e-3, 1e-2, 1e-1],
                   help="bit error rates (per-neuron rates for neuron faults); default 1e-4 1e-3 1e-2 1e-1")
    add_trials(p, 20)
    p.add_argument("--confidence", type=float, default=None,
                   help="instead of --trials: confidence level (e.g. 0.99) for the Leveugle sample size")
    p.add_argument("--margin", type=float, default=0.01,
                   help="error margin e of the Leveugle sample size (default 0.01)")
    p.add_argument("--scope", choices=("model", "layer", "both"), default="model",
                   help="faults in the whole model, one layer at a time, or both (default model)")
    p.add_argument("--layers", type=int, nargs="+", default=None,
                   help="1-based layers for layer-wise scopes (default all)")
    p.add_argument("--fault", choices=FAULT_CHOICES, default="bitflip", help="fault model (default bitflip)")
    p.add_argument("--threshold-factor", type=float, default=0.5,
                   help="threshold multiplier of a perturbed neuron (fault 'threshold'; default 0.5)")
    p.add_argument("--bits", type=int, default=None,
                   help="weight bit width 2..16 (default: the model's quantization, else 8)")
    p.add_argument("--per-channel", action="store_true", help="per-channel scales (default per-tensor)")
    p.add_argument("--mitigation", choices=MITIGATIONS, default="none",
                   help="reliability lever on the faulty words: clamp (to the layer's trained range), "
                        "msb-parity (parity over the top bits; a mismatch zeroes the word), msb-ecc "
                        "(Hamming SEC over the top bits); with a lever, the unmitigated campaign runs "
                        "too (same masks) and summary.json reports the paired gain and its cost")
    add_protect_bits(p)
    p.add_argument("--energy-table", default=None,
                   help="energy table (JSON/YAML) pricing the lever's decode logic (default 45 nm int)")
    add_engine(p)
    add_executor_arguments(p)
    add_out(p)
    add_quiet(p)


def run(args: argparse.Namespace) -> int:
    from spikeloom.faults import CampaignConfig  # noqa: PLC0415
    from spikeloom.measure.reliability import measure_reliability, stored_masks  # noqa: PLC0415
    from spikeloom.quant import build_checkpoint_model, checkpoint_quantization  # noqa: PLC0415

    executor = executor_config(args)
    ckpt, data, seeds, device = load_checkpoint_inputs(args)
    recorded = checkpoint_quantization(ckpt)
    bits = args.bits if args.bits is not None else (recorded.bits if recorded else 8)
    per_channel = args.per_channel or bool(recorded and recorded.per_channel and args.bits is None)
    cc = CampaignConfig(bers=tuple(args.ber), trials=args.trials, scope=args.scope,
                        layers=None if args.layers is None else tuple(args.layers), bits=bits,
                        per_channel=per_channel, seed=seeds["fault_seed"], engine=args.engine,
                        fault=args.fault, threshold_factor=args.threshold_factor,
                        confidence=args.confidence, margin=args.margin, mitigation=args.mitigation,
                        protected_bits=args.protect_bits)
    model = build_checkpoint_model(ckpt, device)
    x, y = first_samples(args, data.x_test, data.y_test)
    # validate everything a campaign can reject before anything is written
    from spikeloom.faults.campaign import check_campaign, prepare_quantized, scopes_of  # noqa: PLC0415
    from spikeloom.faults.fast import pick_engine  # noqa: PLC0415

    check_campaign(model, ckpt.model_config, cc)
    scopes_of(ckpt.model_config, cc)
    qw, qmodel, _ = prepare_quantized(model, cc)
    pick_engine(cc.engine, qmodel, ckpt.model_config, qw)  # a named engine that cannot serve it
    from spikeloom.energy.tables import default_table, load_table  # noqa: PLC0415
    from spikeloom.executor import executor_session  # noqa: PLC0415
    from spikeloom.measure.levers import lever_cost, lever_gain  # noqa: PLC0415

    cost = lever_cost(ckpt.model_config, cc,
                      load_table(args.energy_table) if args.energy_table else default_table("int"))
    with executor_session(executor):  # Ray reached (or refused) before anything is written
        out = prepare_out_dir(args.out)
        trials_path = Path(out) / "trials.jsonl"
        result = measure_reliability(model, ckpt.model_config, x, y, cc, eval_seed=seeds["eval_seed"],
                                     store_path=trials_path, masks=stored_masks(ckpt.extra),
                                     progress=show_progress(args), log=lambda line: say(args, line),
                                     executor=executor)
        lever: dict = {"cost": cost}
        if cc.mitigation != "none":  # the same campaign unmitigated: same seeds, same masks
            base = measure_reliability(model, ckpt.model_config, x, y, cc.replace(mitigation="none"),
                                       eval_seed=seeds["eval_seed"], store_path=Path(out) / "trials-none.jsonl",
                                       masks=stored_masks(ckpt.extra), progress=show_progress(args),
                                       executor=executor)
            lever |= {"baseline": base.to_dict(), "gain": lever_gain(result, base, cost)}
    summary = result.to_dict() | {
        "mitigation": lever,
        "float_accuracy": result.float_accuracy,
        "quantized_accuracy": result.clean_accuracy,
        "model": str(args.model), "dataset": data.name, "split": data.held_out, "samples": len(y),
        "arch": ckpt.model_config.arch, "model_config": ckpt.model_config.to_dict(),
        "campaign": cc.to_dict(), **seeds, "device": str(device), "seconds": result.seconds,
        "trials_file": str(trials_path), "executor": executor.to_dict(),
    }
    write_summary(out, summary)
    say(args, f"{ckpt.model_config.name} int{bits} ({result.engine} engine): clean accuracy {result.clean_accuracy:.4f}"
        + (f" (float {result.float_accuracy:.4f})" if result.float_accuracy is not None else ""))
    for r in result.results:
        say(args, f"  {r.scope:<9} ber {r.ber:<8g} {r.trials:>5} trials  mean {r.mean_accuracy:.4f}  "
                  f"drop {r.accuracy_drop:+.4f}  reliability {r.reliability_pct:6.2f}%  "
                  f"ci95 [{r.ci95[0]:.4f}, {r.ci95[1]:.4f}]")
    for g in lever.get("gain", []):
        say(args, f"  {cc.mitigation}: {g['scope']:<9} ber {g['ber']:<8g} reliability "
                  f"{g['baseline_reliability_pct']:6.2f}% -> {g['reliability_pct']:6.2f}%  gain "
                  f"{g['gain_pp']:+.2f} pp ci95 [{g['gain_ci95'][0]:+.2f}, {g['gain_ci95'][1]:+.2f}]  "
                  f"(+{cost['extra_bits_per_weight']} bits/weight, +{cost['extra_pj_per_read']:.3g} pJ/read)")
    say(args, f"summary -> {Path(out) / 'summary.json'}")
    return 0
