"""spikeloom import: a NIR file (from snnTorch, Norse, SpikingJelly, sinabs, Rockpool, ...)
-> DIR/model.pt, an ordinary spikeloom checkpoint, and DIR/summary.json saying how each NIR
neuron was converted (see spikeloom.interop.nir_import)."""

from __future__ import annotations

import argparse
from pathlib import Path

from spikeloom.cli.common import add_out, add_quiet, say
from spikeloom.spec import ENCODINGS, RESETS

# registered datasets by input size, for the default of --dataset
_DATASET_BY_INPUTS = {64: "digits", 784: "fashion-mnist"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nir", required=True, metavar="FILE", help="NIR file written by nir.write")
    p.add_argument("--dt", type=float, default=None, metavar="SECONDS",
                   help="time step that discretises the NIR neurons (snnTorch's exporter: 1e-4); "
                        "required unless the graph's metadata records one")
    p.add_argument("--encoding", choices=ENCODINGS, default=None,
                   help="how inputs are fed to the model (NIR does not say; default: the "
                        "graph's metadata if spikeloom wrote it, else rate)")
    p.add_argument("--timesteps", type=int, default=None,
                   help="time steps per sample the model is run for (default: the graph's "
                        "metadata if spikeloom wrote it, else 25)")
    p.add_argument("--reset", choices=RESETS, default=None,
                   help="override the reset read from the graph (NIR stores only v_reset; "
                        "snnTorch's exporter writes v_reset=0 for subtractive Leaky layers too)")
    p.add_argument("--dataset", default=None,
                   help="dataset the model is for (default: digits for 64 inputs, "
                        "fashion-mnist for 784)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed recorded as the model's; commands default their input encoding to it")
    add_out(p)
    add_quiet(p)


def run(args: argparse.Namespace) -> int:
    from spikeloom.errors import ConfigError  # noqa: PLC0415
    from spikeloom.interop.nir_import import model_from_nir, read_nir_file  # noqa: PLC0415
    from spikeloom.io import prepare_out_dir, write_summary  # noqa: PLC0415
    from spikeloom.snn import Checkpoint, save_checkpoint  # noqa: PLC0415
    from spikeloom.spec import TrainConfig  # noqa: PLC0415

    if args.timesteps is not None and args.timesteps < 1:
        raise ConfigError(f"--timesteps must be >= 1, got {args.timesteps}")
    imported = model_from_nir(read_nir_file(args.nir), args.dt, encoding=args.encoding,
                              timesteps=args.timesteps, reset=args.reset)
    cfg = imported.model_config
    dataset = args.dataset or _DATASET_BY_INPUTS.get(cfg.input_size, "digits")
    notes = list(imported.notes)
    if args.dataset is None and cfg.input_size not in _DATASET_BY_INPUTS:
        notes.append(f"no registered dataset has {cfg.input_size} inputs; commands that need "
                     "data will refuse this model")
    conversion = {"format": "nir", "file": str(args.nir), "dt": imported.dt,
                  "dt_source": imported.dt_source, "layers": list(imported.layers),
                  "notes": notes}
    ckpt = Checkpoint(model_config=cfg,
                      train_config=TrainConfig(dataset=dataset, epochs=0, seed=args.seed),
                      state_dict=imported.state_dict, extra={"imported": conversion})
    ckpt.build()  # the state dict fits the config (a bug here must not write a file)
    out = prepare_out_dir(args.out)
    path = save_checkpoint(Path(out) / "model.pt", ckpt)
    write_summary(out, {"model": str(path), "source": str(args.nir), "dt": imported.dt,
                        "dt_source": imported.dt_source, "encoding": cfg.encoding,
                        "timesteps": cfg.timesteps, "reset": cfg.reset, "readout": cfg.readout,
                        "dataset": dataset, "seed": args.seed,
                        "conversion": "forward Euler: beta = 1 - dt/tau, weights x dt*r/tau, "
                                      "bias + dt*v_leak/tau, theta = v_threshold, v_reset 0 = zero reset",
                        "layers": list(imported.layers), "notes": notes,
                        "model_config": cfg.to_dict()})
    say(args, f"{cfg.name} ({cfg.reset} reset, {cfg.readout} readout, dt {imported.dt:g} s) "
              f"from {args.nir} -> {path}")
    for rec in imported.layers:
        theta = "" if rec["threshold"] is None else f" theta {rec['threshold']:.6g}"
        say(args, f"  layer {rec['layer']}: {rec['weight_type']} {rec['fan_in']}->{rec['size']} "
                  f"+ {rec['neuron_type']} beta {rec['beta']:.6g}{theta} gain {rec['gain']}")
    return 0
