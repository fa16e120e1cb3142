"""spikeloom explain: figures, attributions, rules and faithfulness for a trained model."""

from __future__ import annotations

import argparse

from spikeloom.cli.common import (
    add_checkpoint_inputs,
    add_out,
    add_quiet,
    load_checkpoint_inputs,
    say,
)

# kept in step with spikeloom.explain.pipeline.METHODS (imported lazily: torch)
METHOD_HELP = ("raster,psth,membrane,heatmap,embedding,saliency,ig,sam,occlusion,ablation,rules "
               "or all")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_checkpoint_inputs(p, split=False)
    p.add_argument("--sample-ids", type=int, nargs="+", default=None, metavar="INDEX",
                   help="indices of the samples to explain (default 0; --samples N: the first N)")
    p.add_argument("--split", choices=("test", "train"), default="test",
                   help="split the sample indices refer to (default test)")
    p.add_argument("--methods", default="all", help=f"comma-separated: {METHOD_HELP} (default all)")
    p.add_argument("--target", choices=("predicted", "label"), default="predicted",
                   help="class to explain: the model's prediction (default) or the true label")
    p.add_argument("--rules-depth", type=int, default=8, help="maximum depth of the rule tree (default 8)")
    p.add_argument("--rules-layer", type=int, default=None,
                   help="hidden layer (1-based) whose spike counts feed the rules (default: last hidden)")
    p.add_argument("--profile-samples", type=int, default=500,
                   help="test samples for PSTH, heatmap, embedding, ablation and rule fidelity (default 500)")
    p.add_argument("--rules-fit-samples", type=int, default=1000,
                   help="train samples the rule tree is fitted on (default 1000)")
    p.add_argument("--deletion-unit", choices=("pixel", "bin"), default="pixel",
                   help="unit removed by the deletion/insertion curves: pixel or input time bin")
    p.add_argument("--deletion-score", choices=("prob", "logit"), default="prob",
                   help="score followed by the curves: target probability (default) or logit")
    p.add_argument("--deletion-steps", type=int, default=20, help="points per curve minus one (default 20)")
    p.add_argument("--random-repeats", type=int, default=5,
                   help="random orderings averaged for the baseline (default 5)")
    p.add_argument("--ig-steps", type=int, default=32, help="integrated-gradients steps (default 32)")
    p.add_argument("--embedding", choices=("pca", "tsne"), default="pca", help="neuron embedding (default pca)")
    p.add_argument("--membrane-layer", type=int, default=1, help="layer of the membrane traces (default 1)")
    add_out(p)
    add_quiet(p)


def run(args: argparse.Namespace) -> int:
    from spikeloom.errors import ConfigError  # noqa: PLC0415
    from spikeloom.explain import ExplainOptions, check_request, explain_model, parse_methods  # noqa: PLC0415
    from spikeloom.io import prepare_out_dir, write_summary  # noqa: PLC0415

    methods = parse_methods(args.methods)
    options = ExplainOptions(
        split=args.split, target=args.target, profile_samples=args.profile_samples,
        rules_fit_samples=args.rules_fit_samples, rules_depth=args.rules_depth,
        rules_layer=args.rules_layer, ig_steps=args.ig_steps, membrane_layer=args.membrane_layer,
        embedding=args.embedding, deletion_unit=args.deletion_unit,
        deletion_score=args.deletion_score, deletion_steps=args.deletion_steps,
        random_repeats=args.random_repeats)
    if args.samples is not None and args.sample_ids is not None:
        raise ConfigError("give either --samples N (the first N) or --sample-ids I..., not both")
    if args.samples is not None and args.samples < 1:
        raise ConfigError(f"--samples must be >= 1, got {args.samples}")
    ids = args.sample_ids or list(range(args.samples or 1))
    ckpt, data, seeds, device = load_checkpoint_inputs(args)
    model = ckpt.build(device)
    check_request(model, data, ids, methods, options.split)
    out = prepare_out_dir(args.out)
    result = explain_model(model, ckpt.model_config, data, samples=ids, methods=methods,
                           out_dir=out, seed=seeds["eval_seed"], options=options)
    summary = result.to_dict() | seeds | {"device": str(device), "checkpoint": str(args.model)}
    write_summary(out, summary)
    for p in result.predictions:
        say(args, f"sample {p['sample']}: label {p['label']}, predicted {p['predicted']}")
    for name in methods:
        entry = result.methods[name]
        figures = []
        if "deletion_auc" in entry:
            figures.append(f"deletion AUC {entry['deletion_auc']:.3f}, "
                           f"insertion AUC {entry['insertion_auc']:.3f}")
        if name == "rules" and result.rules is not None:
            figures.append(f"fidelity {result.rules.fidelity:.3f} at depth {result.rules.depth} "
                           f"(layer {result.rules.layer})")
        say(args, f"{name:10s} {'; '.join(figures) or ', '.join(entry['files'][:3])}")
    if summary["random"]:
        say(args, f"{'random':10s} deletion AUC {summary['random']['deletion_auc']:.3f}, "
                  f"insertion AUC {summary['random']['insertion_auc']:.3f}")
    say(args, f"{len(result.figures)} figures in {summary['total_seconds']:.1f} s -> "
              f"{out / 'summary.json'}")
    return 0
