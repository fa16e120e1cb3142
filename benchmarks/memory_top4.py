"""Peak process memory of training TOP4 (784-512-256-256-128-10, T=100, batch 256) with
spikeloom, snnTorch and SpikingJelly, each in its own child process, in this one run.

    python benchmarks/memory_top4.py [--steps 3] [--engines spikeloom,snntorch,spikingjelly]

Each child builds its network (the definitions of benchmarks/train_throughput.py: the same
LIF equation, bias-free, spike-count readout, Adam), rate-codes one batch [100, 256, 784],
and runs `--steps` training steps on the CPU. It reports its peak resident set size
(`resource.getrusage(RUSAGE_SELF).ru_maxrss`), and its RSS before the first step (after
imports, network and batch), so `training_mib` is what training itself adds. SpikingJelly is
installed by `make bench` (without its CUDA extras). `ratio` = spikeloom peak / the smallest
peer peak (<= 1: at most theirs). The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path

TOP4 = (784, 512, 256, 256, 128, 10)
HERE = Path(__file__).resolve().parent


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(engine: str, steps: int, timesteps: int, batch: int, threads: int) -> None:
    import torch  # noqa: PLC0415
    from torch import nn  # noqa: PLC0415

    sys.path.insert(0, str(HERE))
    import train_throughput as tt  # noqa: PLC0415

    torch.set_num_threads(threads)
    tt.TOPOLOGY = TOP4  # the factories read it when they build
    torch.manual_seed(0)
    factory = {"spikeloom": tt.spikeloom_net, "snntorch": tt.snntorch_net,
               "spikingjelly": tt.spikingjelly_net}[engine]
    model = factory()
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(timesteps, batch, TOP4[0], generator=gen) < 0.3).float()
    y = torch.randint(0, TOP4[-1], (batch,), generator=gen)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    before = _rss_mib()
    model.train()
    for _ in range(steps):
        if engine == "spikingjelly":
            from spikingjelly.activation_based import functional  # noqa: PLC0415

            functional.reset_net(model)
        loss = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"engine": engine, "peak_mib": round(peak, 1),
                      "before_training_mib": round(before, 1),
                      "training_mib": round(peak - before, 1), "loss": float(loss)}))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--timesteps", type=int, default=100)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--engines", default="spikeloom,snntorch,spikingjelly")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args.child, args.steps, args.timesteps, args.batch, args.threads)
        return 0
    rows = {}
    for engine in args.engines.split(","):
        cmd = [sys.executable, __file__, "--child", engine, "--steps", str(args.steps),
               "--timesteps", str(args.timesteps), "--batch", str(args.batch),
               "--threads", str(args.threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["?"])[-1]
            print(f"{engine}: failed ({last})", flush=True)
            continue
        rows[engine] = json.loads(proc.stdout.strip().splitlines()[-1])
        r = rows[engine]
        print(f"{engine:<13} peak {r['peak_mib']:8.1f} MiB  (before training {r['before_training_mib']:.1f},"
              f" training adds {r['training_mib']:.1f})", flush=True)
    peers = [rows[e]["peak_mib"] for e in rows if e != "spikeloom"]
    print(json.dumps({
        "benchmark": "memory_top4", "topology": "-".join(map(str, TOP4)),
        "timesteps": args.timesteps, "batch": args.batch, "steps": args.steps, "rows": rows,
        "ratio": round(rows["spikeloom"]["peak_mib"] / min(peers), 3)
        if "spikeloom" in rows and peers else None,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "load": " ".join(f"{v:.2f}" for v in os.getloadavg()),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
