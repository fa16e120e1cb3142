"""spikeloom energy: operation counts and energy per sample of a checkpoint (ANN: MACs; SNN:
spike-driven accumulates), from the 45 nm table or a user's JSON/YAML table."""

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


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_checkpoint_inputs(p)
    p.add_argument("--precision", choices=("int", "fp"), default="int",
                   help="table column: int (integer-quantized models, default) or fp")
    p.add_argument("--table", default=None,
                   help='JSON/YAML energy table in pJ, e.g. {"MAC": 3.2, "ACC": 0.1} or {"int": {...}, "fp": {...}}')
    p.add_argument("--compare", default=None,
                   help="a second checkpoint (the ANN or SNN of the same topology): adds ann_snn_ratio")
    p.add_argument("--synapses", choices=("dense", "nonzero"), default="dense",
                   help="synapses counted: dense (every synapse of the topology, the paper's "
                        "count; default) or nonzero (stored weights only, for pruned networks)")
    add_out(p)
    add_quiet(p)


def _report(path: str, args: argparse.Namespace, table):
    from spikeloom.measure import measure_energy  # noqa: PLC0415
    from spikeloom.quant import build_checkpoint_model  # noqa: PLC0415

    ckpt, data, seeds, device = load_checkpoint_inputs(args, path)
    x, _ = first_samples(args, data.x_test, data.y_test)
    report = measure_energy(build_checkpoint_model(ckpt, device), ckpt.model_config, x,
                            seed=seeds["eval_seed"], precision=args.precision, table=table,
                            synapses=args.synapses)
    return ckpt, data, len(x), report, seeds | {"device": str(device)}


def _neurobench(ckpt, args: argparse.Namespace, data, seeds: dict) -> dict:
    """NeuroBench's metrics of an SNN checkpoint on the samples the energy estimate used."""
    from spikeloom.measure.energy import neurobench_figures  # noqa: PLC0415
    from spikeloom.quant import build_checkpoint_model  # noqa: PLC0415

    x, _ = first_samples(args, data.x_test, data.y_test)
    return neurobench_figures(build_checkpoint_model(ckpt), ckpt.model_config, x, seeds["eval_seed"])


def run(args: argparse.Namespace) -> int:
    from spikeloom.energy import energy_ratio, load_table  # noqa: PLC0415
    from spikeloom.errors import ConfigError  # noqa: PLC0415
    from spikeloom.io import prepare_out_dir, write_summary  # noqa: PLC0415

    table = load_table(args.table, args.precision) if args.table else None
    ckpt, data, samples, report, seeds = _report(args.model, args, table)
    summary = report.to_dict() | seeds | {"model": str(args.model), "dataset": data.name, "split": data.held_out,
                                          "samples": samples, "model_config": ckpt.model_config.to_dict()}
    if ckpt.model_config.arch == "snn":
        summary["neurobench"] = _neurobench(ckpt, args, data, seeds)
    other = None
    if args.compare:
        other_ckpt, _, _, other, _ = _report(args.compare, args, table)
        if {ckpt.model_config.arch, other_ckpt.model_config.arch} != {"ann", "snn"}:
            raise ConfigError("--compare needs one ANN and one SNN checkpoint")
        if ckpt.model_config.topology != other_ckpt.model_config.topology:
            raise ConfigError("--compare needs a checkpoint of the same topology")
        ann, snn = (report, other) if report.arch == "ann" else (other, report)
        summary |= {"compare": {"model": str(args.compare), **other.to_dict()},
                    "ann_snn_ratio": energy_ratio(ann, snn)}
    out = prepare_out_dir(args.out)
    write_summary(out, summary)
    say(args, f"{ckpt.model_config.name}: {report.ops_per_sample:,.0f} {report.op}/sample, "
              f"{report.energy_pj_per_sample:,.1f} pJ/sample ({args.precision})")
    for row in report.per_layer:
        say(args, f"  layer {row['layer']}: {row['ops']:,.0f} {report.op}, {row['energy_pj']:,.1f} pJ")
    if other is not None:
        say(args, f"ANN/SNN energy ratio {summary['ann_snn_ratio']:.2f}x")
    say(args, f"summary -> {Path(out) / 'summary.json'}")
    return 0
