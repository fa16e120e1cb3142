"""spikeloom export: a spikeloom checkpoint -> DIR/model.nir (NIR, for snnTorch, Norse, Lava,
SpiNNaker, ...) or DIR/network.json (the mapper's view as a TENNLab network)."""

from __future__ import annotations

import argparse
from pathlib import Path

from spikeloom.cli.common import add_out, add_quiet, say


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="checkpoint (model.pt or its folder)")
    p.add_argument("--format", choices=("nir", "tennlab"), default="nir",
                   help="nir: DIR/model.nir; tennlab: DIR/network.json (default nir)")
    p.add_argument("--dt", type=float, default=1e-4, metavar="SECONDS",
                   help="NIR: time step the neurons' tau are written for (default 1e-4, "
                        "what snnTorch's importer assumes)")
    p.add_argument("--allow-subtract", action="store_true",
                   help="NIR: write a subtractive-reset model anyway, with reset_mode 'subtract' "
                        "in the metadata (NIR itself can only reset to v_reset)")
    p.add_argument("--prune-threshold", type=float, default=0.0,
                   help="TENNLab: drop synapses with |w| <= this, as 'map --model' does (default 0)")
    add_out(p)
    add_quiet(p)


def run(args: argparse.Namespace) -> int:
    from spikeloom.errors import ConfigError  # noqa: PLC0415
    from spikeloom.interop.nir_export import layer_values, nir_graph  # noqa: PLC0415
    from spikeloom.io import atomic_write, atomic_write_json, prepare_out_dir, write_summary  # noqa: PLC0415
    from spikeloom.quant import build_checkpoint_model  # noqa: PLC0415
    from spikeloom.snn import load_checkpoint  # noqa: PLC0415

    path = Path(args.model) / "model.pt" if Path(args.model).is_dir() else Path(args.model)
    ckpt = load_checkpoint(path)
    cfg = ckpt.model_config
    if cfg.arch != "snn":
        raise ConfigError(f"{args.model} is an ANN; export needs an SNN checkpoint")
    layers = layer_values(build_checkpoint_model(ckpt))
    info = {"model": str(path), "format": args.format, "reset": cfg.reset,
            "readout": cfg.readout, "encoding": cfg.encoding, "timesteps": cfg.timesteps,
            "beta": [lv.beta for lv in layers], "threshold": [lv.threshold for lv in layers],
            "model_config": cfg.to_dict()}
    if args.format == "nir":
        from spikeloom.interop.nir_import import require_nir  # noqa: PLC0415

        nir = require_nir()
        graph = nir_graph(cfg, layers, dt=args.dt, allow_subtract=args.allow_subtract)
        out = prepare_out_dir(args.out)
        target = atomic_write(Path(out) / "model.nir", lambda tmp: nir.write(str(tmp), graph))
        info |= {"dt": args.dt, "nodes": {k: type(v).__name__ for k, v in graph.nodes.items()},
                 "reset_in_metadata": cfg.reset == "subtract"}
    else:
        if args.prune_threshold < 0:
            raise ConfigError(f"--prune-threshold must be >= 0, got {args.prune_threshold}")
        import torch  # noqa: PLC0415

        from spikeloom.interop.tennlab import tennlab_network  # noqa: PLC0415
        from spikeloom.measure.graph import PruningPolicy, graph_from_layers  # noqa: PLC0415

        graph = graph_from_layers([torch.as_tensor(lv.weight) for lv in layers],
                                  PruningPolicy(threshold=args.prune_threshold),
                                  name=path.parent.name or path.stem)
        network = tennlab_network(graph, [lv.weight for lv in layers], [lv.threshold for lv in layers],
                                  prune_threshold=args.prune_threshold,
                                  info={k: info[k] for k in ("reset", "readout", "encoding",
                                                             "timesteps", "beta")})
        out = prepare_out_dir(args.out)
        target = atomic_write_json(Path(out) / "network.json", network)
        info |= {"prune_threshold": args.prune_threshold, "neurons": len(network["Nodes"]),
                 "synapses": len(network["Edges"])}
    write_summary(out, {"output": str(target), **info})
    say(args, f"{cfg.name} ({cfg.reset} reset) -> {target}")
    return 0
