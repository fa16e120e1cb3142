"""Training and inference throughput: spikeloom vs snnTorch vs SpikingJelly on CPU.

Trains 784-128-64-10 (bias-free), T=25, batch 128, spike-count readout, cross-entropy on
counts, Adam, with the LIF neuron U[t] = beta U[t-1] + W X[t] - S[t-1] theta (subtract
reset, spike when U > theta, reset term detached, fast-sigmoid surrogate, slope 25) in:

- spikeloom   `SpikingMLP` (one matmul over all T x B rows, fused LIF with a hand-written backward)
- snnTorch    `snn.Leaky(beta, threshold, spike_grad=fast_sigmoid(25), reset_mechanism="subtract")`
              driven the documented way: a loop over time steps, layer by layer inside it
- SpikingJelly multi-step `layer.Linear` + `neuron.LIFNode(tau=1/(1-beta), decay_input=False,
              v_reset=None, detach_reset=True, surrogate SoftSign(alpha=25))` on its CPU kernel
- plain       a layer-by-layer PyTorch loop (matmul over all T, then `lif_step` per step with
              autograd) as the floor any hand-written kernel has to beat

All start from the same weights and see the same rate-coded batches. Every engine is timed in
several interleaved rounds (warm-up steps, then timed steps); the best round's mean counts, which
keeps a burst of load from another process out of one engine's figure only.

SpikingJelly's LIFNode cannot express this equation exactly: its soft reset subtracts theta
from V *before* the next decay, H[t] = beta (H[t-1] - theta S[t-1]) + X[t], so the reset is
scaled by beta (snnTorch and spikeloom subtract theta after the decay), and it fires on H >= theta
(not >). tau must be finite, so beta = 1 (where the two resets agree) is out of reach too. Its
SoftSign surrogate has the fast sigmoid's shape but alpha/2 times its height. The per-step cost is
the same, so the timing comparison stands; the spike check reports, for SpikingJelly, (a) that it
reproduces its own documented equation given our weights and input, and (b) how many spikes
differ from spikeloom's equation. Spikes of spikeloom, snnTorch and the plain loop must be
identical, layer by layer.

Run: python benchmarks/train_throughput.py [--steps 20 --warmup 5 --rounds 3 --threads 2]
On a machine shared with other jobs, add `--threads 1 --clock cpu` for a figure that the load
does not move (CPU time of this process only).
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable

import torch
from torch import nn

from spikeloom.snn.models import SpikingMLP
from spikeloom.snn.neuron import LIFParameters, initial_state, lif_step
from spikeloom.spec import ModelConfig

TOPOLOGY = (784, 128, 64, 10)
BETA, THETA, SLOPE = 0.95, 1.0, 25.0


# --------------------------------------------------------------------------- engines


class PlainLoop(nn.Module):
    """Layer by layer: one matmul over all T, then lif_step per timestep with autograd."""

    def __init__(self) -> None:
        super().__init__()
        self.fcs = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in zip(TOPOLOGY[:-1], TOPOLOGY[1:]))
        self.p = LIFParameters(BETA, THETA, "subtract", "fast_sigmoid", SLOPE)

    def layers(self, x: torch.Tensor) -> list[torch.Tensor]:
        out, h = [], x
        for fc in self.fcs:
            cur = fc(h)
            state = initial_state(cur[0])
            spikes = []
            for t in range(cur.shape[0]):
                spk, state = lif_step(cur[t], state, self.p)
                spikes.append(spk)
            h = torch.stack(spikes)
            out.append(h)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)[-1].sum(0)


def snntorch_net() -> nn.Module:
    import snntorch as snn  # noqa: PLC0415
    from snntorch import surrogate  # noqa: PLC0415

    class SnnTorchNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fcs = nn.ModuleList(nn.Linear(a, b, bias=False)
                                     for a, b in zip(TOPOLOGY[:-1], TOPOLOGY[1:]))
            self.lifs = nn.ModuleList(
                snn.Leaky(beta=BETA, threshold=THETA, spike_grad=surrogate.fast_sigmoid(slope=SLOPE),
                          reset_mechanism="subtract") for _ in self.fcs)

        def layers(self, x: torch.Tensor) -> list[torch.Tensor]:
            mems = [lif.init_leaky() for lif in self.lifs]
            rec: list[list[torch.Tensor]] = [[] for _ in self.lifs]
            for t in range(x.shape[0]):
                h = x[t]
                for i, (fc, lif) in enumerate(zip(self.fcs, self.lifs)):
                    h, mems[i] = lif(fc(h), mems[i])
                    rec[i].append(h)
            return [torch.stack(r) for r in rec]

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            mems = [lif.init_leaky() for lif in self.lifs]
            counts = None
            for t in range(x.shape[0]):
                h = x[t]
                for i, (fc, lif) in enumerate(zip(self.fcs, self.lifs)):
                    h, mems[i] = lif(fc(h), mems[i])
                counts = h if counts is None else counts + h
            return counts

    return SnnTorchNet()


def spikingjelly_net() -> nn.Module:
    from spikingjelly.activation_based import functional, layer, neuron, surrogate  # noqa: PLC0415

    class SpikingJellyNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fcs = nn.ModuleList(layer.Linear(a, b, bias=False, step_mode="m")
                                     for a, b in zip(TOPOLOGY[:-1], TOPOLOGY[1:]))
            self.lifs = nn.ModuleList(
                neuron.LIFNode(tau=1.0 / (1.0 - BETA), decay_input=False, v_threshold=THETA,
                               v_reset=None, detach_reset=True,
                               surrogate_function=surrogate.SoftSign(alpha=SLOPE), step_mode="m")
                for _ in self.fcs)

        def layers(self, x: torch.Tensor) -> list[torch.Tensor]:
            functional.reset_net(self)
            out, h = [], x
            for fc, lif in zip(self.fcs, self.lifs):
                h = lif(fc(h))
                out.append(h)
            return out

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.layers(x)[-1].sum(0)

    return SpikingJellyNet()


def spikeloom_net() -> nn.Module:
    cfg = ModelConfig(arch="snn", topology=TOPOLOGY, timesteps=25, threshold=THETA, beta=BETA,
                      surrogate="fast_sigmoid", slope=SLOPE)
    return SpikingMLP(cfg)


def spikeloom_layers(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    from spikeloom.snn.activity import record_spikes  # noqa: PLC0415

    return record_spikes(model, x)[1:]


# --------------------------------------------------------------------------- data


def make_batches(n: int, timesteps: int, batch: int, source: str, seed: int
                 ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """n batches of rate-coded input [T, B, 784] (float32 0/1) and labels [B]."""
    gen = torch.Generator().manual_seed(seed)
    if source == "fashion-mnist":
        from spikeloom.data import load_dataset  # noqa: PLC0415

        data = load_dataset("fashion-mnist")
        images, labels = data.x_train, data.y_train
    out = []
    for _ in range(n):
        if source == "fashion-mnist":
            idx = torch.randint(len(images), (batch,), generator=gen)
            x, y = images[idx].float(), labels[idx]
        else:
            x = torch.rand(batch, TOPOLOGY[0], generator=gen)
            y = torch.randint(TOPOLOGY[-1], (batch,), generator=gen)
        spikes = (torch.rand(timesteps, batch, TOPOLOGY[0], generator=gen) < x).float()
        out.append((spikes, y))
    return out


# --------------------------------------------------------------------------- timing


CLOCK = time.perf_counter  # --clock cpu: time.process_time (CPU seconds of this process)


def time_train(model: nn.Module, batches, warmup: int, steps: int, lr: float) -> float:
    """Mean ms per optimiser step over `steps` steps after `warmup` steps."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    model.train()

    def step(i: int) -> None:
        x, y = batches[i % len(batches)]
        loss = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for i in range(warmup):
        step(i)
    t0 = CLOCK()
    for i in range(steps):
        step(warmup + i)
    return (CLOCK() - t0) * 1e3 / steps


@torch.no_grad()
def time_infer(model: nn.Module, batches, warmup: int, steps: int) -> float:
    model.eval()
    for i in range(warmup):
        model(batches[i % len(batches)][0])
    t0 = CLOCK()
    for i in range(steps):
        model(batches[(warmup + i) % len(batches)][0])
    return (CLOCK() - t0) * 1e3 / steps


# --------------------------------------------------------------------------- spike checks


def sj_reference(x: torch.Tensor, weights: list[torch.Tensor]) -> list[torch.Tensor]:
    """SpikingJelly's documented LIF (decay_input=False, soft reset) written out by hand:
    H = V + (0 - V)/tau + X, S = (H >= theta), V = H - theta S."""
    tau = 1.0 / (1.0 - BETA)
    out, h = [], x
    for w in weights:
        cur = h @ w.t()
        v = torch.zeros_like(cur[0])
        spikes = []
        for t in range(cur.shape[0]):
            hh = v - v / tau + cur[t]
            s = (hh >= THETA).to(cur.dtype)
            v = hh - s * THETA
            spikes.append(s)
        h = torch.stack(spikes)
        out.append(h)
    return out


@torch.no_grad()
def spike_checks(engines: dict[str, nn.Module], layers_of: dict[str, Callable], x: torch.Tensor
                 ) -> dict:
    ours = layers_of["spikeloom"](engines["spikeloom"], x)
    result: dict = {"spikes_per_sample_per_layer": [float(s.sum()) / x.shape[1] for s in ours]}
    identical = True
    for name in ("snntorch", "plain"):
        if name not in engines:
            continue
        theirs = layers_of[name](engines[name], x)
        same = all(torch.equal(a, b) for a, b in zip(ours, theirs))
        result[f"identical_spikes_{name}"] = same
        identical = identical and same
    result["identical_spikes"] = identical
    if "spikingjelly" in engines:
        sj = layers_of["spikingjelly"](engines["spikingjelly"], x)
        weights = [fc.weight for fc in engines["spikeloom"].fcs]
        result["spikingjelly_matches_its_own_equation"] = all(
            torch.equal(a, b) for a, b in zip(sj, sj_reference(x, weights)))
        diff = sum(int((a != b).sum()) for a, b in zip(ours, sj))
        total = sum(a.numel() for a in ours)
        result["spikingjelly_spikes_differing_from_spikeloom"] = diff
        result["spikingjelly_spike_slots"] = total
    return result


@torch.enable_grad()
def gradient_check(a: nn.Module, b: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Largest relative difference between the weight gradients of two engines."""
    loss_fn = nn.CrossEntropyLoss()
    grads = []
    for model in (a, b):
        model.train()
        model.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        grads.append([fc.weight.grad.clone() for fc in model.fcs])
    worst = 0.0
    for ga, gb in zip(*grads):
        worst = max(worst, float((ga - gb).abs().max() / gb.abs().max().clamp(min=1e-30)))
    return worst


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--timesteps", type=int, default=25)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20, help="timed steps per round (default 20)")
    ap.add_argument("--warmup", type=int, default=5, help="warm-up steps per round (default 5)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument("--input", choices=("random", "fashion-mnist"), default="random",
                    help="intensities to rate-code: uniform random (default) or Fashion-MNIST images")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall-clock time (default) or this process's CPU time; with --threads 1 "
                         "the CPU time is a load-independent figure on a busy machine")
    ap.add_argument("--lr", type=float, default=5e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--engines", default="spikeloom,snntorch,spikingjelly,plain",
                    help="comma-separated subset to run")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter

    torch.manual_seed(args.seed)
    factories: dict[str, Callable[[], nn.Module]] = {
        "spikeloom": spikeloom_net, "snntorch": snntorch_net,
        "spikingjelly": spikingjelly_net, "plain": PlainLoop}
    names = [n for n in args.engines.split(",") if n]
    engines: dict[str, nn.Module] = {}
    for name in names:
        try:
            engines[name] = factories[name]()
        except ImportError as exc:
            print(f"skipping {name}: {exc}", file=sys.stderr)
    reference = engines["spikeloom"]
    for model in engines.values():
        model.load_state_dict({k: v for k, v in reference.state_dict().items() if k.startswith("fcs.")},
                              strict=False)
    layers_of = {"spikeloom": spikeloom_layers, "snntorch": lambda m, x: m.layers(x),
                 "spikingjelly": lambda m, x: m.layers(x), "plain": lambda m, x: m.layers(x)}

    batches = make_batches(8, args.timesteps, args.batch_size, args.input, args.seed)
    # Spikes and gradients before any training, all engines on the same weights and input.
    # Scale the weights up so every layer fires (the default init barely reaches theta).
    with torch.no_grad():
        for model in engines.values():
            for fc in model.fcs:
                fc.weight.mul_(4.0)
    checks = spike_checks(engines, layers_of, batches[0][0])
    if "snntorch" in engines:
        checks["max_rel_grad_diff_snntorch"] = gradient_check(
            engines["spikeloom"], engines["snntorch"], *batches[0])
    with torch.no_grad():
        for model in engines.values():
            for fc in model.fcs:
                fc.weight.div_(4.0)
    states = {n: {k: v.clone() for k, v in m.state_dict().items()} for n, m in engines.items()}

    load_before = os.getloadavg()[0]
    train: dict[str, list[float]] = {n: [] for n in engines}
    infer: dict[str, list[float]] = {n: [] for n in engines}
    for r in range(args.rounds):
        for name, model in engines.items():
            model.load_state_dict(states[name])
            train[name].append(time_train(model, batches, args.warmup, args.steps, args.lr))
            infer[name].append(time_infer(model, batches, args.warmup, args.steps))
            print(f"round {r + 1}/{args.rounds} {name:>12}: train {train[name][-1]:7.2f} ms/step, "
                  f"inference {infer[name][-1]:7.2f} ms/batch", file=sys.stderr)

    out: dict = {
        "topology": "-".join(map(str, TOPOLOGY)), "timesteps": args.timesteps,
        "batch_size": args.batch_size, "threads": args.threads, "clock": args.clock,
        "input": args.input,
        "steps": args.steps, "warmup": args.warmup, "rounds": args.rounds,
        "torch": torch.__version__, "machine": platform.processor() or platform.machine(),
        # 1-minute load average before/after: other processes on the machine skew wall-clock times
        "loadavg_before": round(load_before, 2), "loadavg_after": round(os.getloadavg()[0], 2),
    }
    for name in engines:
        out[f"{name}_ms_per_step"] = round(min(train[name]), 2)
        out[f"{name}_inference_ms_per_batch"] = round(min(infer[name]), 2)
    for name in engines:
        if name == "spikeloom":
            continue
        out[f"speedup_vs_{name}_train"] = round(min(train[name]) / min(train["spikeloom"]), 2)
        out[f"speedup_vs_{name}_inference"] = round(min(infer[name]) / min(infer["spikeloom"]), 2)
    out |= checks
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
