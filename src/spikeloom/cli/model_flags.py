"""The model flags of `spikeloom train` (architecture, neurons, encoding, readout) and the
`ModelConfig` they make; shared by every training method."""

from __future__ import annotations

import argparse

from spikeloom.spec import ENCODINGS, READOUTS, RESETS, SURROGATES, ModelConfig


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--arch", choices=("snn", "ann"), default="snn", help="network kind (default snn)")
    p.add_argument("--topology", default="64-32-10",
                   help="layer sizes input-hidden...-output, e.g. 784-128-64-10 (default 64-32-10)")
    p.add_argument("--timesteps", type=int, default=10, help="SNN timesteps T (default 10)")
    p.add_argument("--threshold", type=float, default=1.0, help="firing threshold theta (default 1.0)")
    p.add_argument("--beta", type=float, default=0.95, help="membrane decay, 1 = IF (default 0.95)")
    p.add_argument("--reset", choices=RESETS, default="subtract", help="reset mechanism")
    p.add_argument("--surrogate", choices=SURROGATES, default="fast_sigmoid", help="surrogate gradient")
    p.add_argument("--slope", type=float, default=25.0, help="surrogate slope (default 25)")
    p.add_argument("--encoding", choices=ENCODINGS, default="rate", help="input encoding")
    p.add_argument("--readout", choices=READOUTS, default="count", help="output readout")
    p.add_argument("--learn-beta", action="store_true", help="learn beta per layer")
    p.add_argument("--learn-threshold", action="store_true", help="learn theta per layer")
    p.add_argument("--bias", action="store_true", help="use biases (default bias-free)")


def model_config_from(args: argparse.Namespace) -> ModelConfig:
    return ModelConfig(arch=args.arch, topology=args.topology, timesteps=args.timesteps,
                       threshold=args.threshold, beta=args.beta, reset=args.reset,
                       surrogate=args.surrogate, slope=args.slope, learn_beta=args.learn_beta,
                       learn_threshold=args.learn_threshold, bias=args.bias,
                       readout=args.readout, encoding=args.encoding)
