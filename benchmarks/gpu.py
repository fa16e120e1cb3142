"""GPU benchmark, one prepared command: training step and fault-campaign throughput of
spikeloom vs snnTorch on the same device, with peak GPU memory.

    python benchmarks/gpu.py                 # CUDA when present, else a small CPU run
    python benchmarks/gpu.py --device cpu    # the CPU fallback (what CI runs, small sizes)

On CUDA (defaults): TOP4 784-512-256-256-128-10, T=100, batch 256 for training; a campaign of
model-wise int8 bit flips (BER 1e-3, `--trials` trials) on `--samples` rate-coded synthetic
images. On the CPU fallback: 784-128-64-10, T=10, batch 32, 4 trials on 100 images.

- train: ms per Adam step (forward, backward, step) after warm-up, spikeloom `SpikingMLP`
  vs snnTorch `Leaky` (definitions of benchmarks/train_throughput.py, same weights and input);
  peak GPU memory of each (`torch.cuda.max_memory_allocated`; None on CPU).
- campaign: trials/s of spikeloom's batched engine (K masks per forward pass), its reference
  engine (one faulty model per trial), and the same trials run the snnTorch way (faulty
  dequantized weights loaded into the snnTorch net, one forward per trial). `identical`:
  batched == reference trial by trial; snnTorch computes with float weights (w = q s), so
  its accuracies may differ slightly: `snntorch_max_accuracy_diff` says by how much.
The last line is JSON with `train_ratio` (snnTorch ms / spikeloom ms) and `campaign_ratio`
(spikeloom batched trials/s / snnTorch trials/s), and the device named.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_throughput as tt  # noqa: E402
from spikeloom.data.protocol import eval_batches  # noqa: E402
from spikeloom.faults import CampaignConfig, run_campaign  # noqa: E402
from spikeloom.faults.injection import sample_trial_faults  # noqa: E402
from spikeloom.faults.trial import trial_seed  # noqa: E402
from spikeloom.quant import apply_quantized, quantize_model  # noqa: E402
from spikeloom.snn import build_model  # noqa: E402
from spikeloom.spec import ModelConfig  # noqa: E402

FULL = {"topology": (784, 512, 256, 256, 128, 10), "timesteps": 100, "batch": 256,
        "samples": 2000, "trials": 32, "steps": 10}
SMALL = {"topology": (784, 128, 64, 10), "timesteps": 10, "batch": 32,
         "samples": 100, "trials": 4, "steps": 3}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_reset(device: torch.device) -> None:
    if device.type == "cuda":
        sync(device)
        torch.cuda.reset_peak_memory_stats(device)


def peak_mib(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    return round(torch.cuda.max_memory_allocated(device) / 2 ** 20, 1)


def time_training(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int,
                  device: torch.device) -> tuple[float, float | None]:
    """(ms per step, peak GPU MiB) of Adam steps on one batch."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    model.train()

    def step() -> None:
        loss = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()  # warm-up (kernels, allocator)
    peak_reset(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return (time.perf_counter() - start) * 1e3 / steps, peak_mib(device)


@torch.no_grad()
def snntorch_campaign(net: nn.Module, qw, inputs: list[torch.Tensor], y: torch.Tensor,
                      trials: list) -> list[float]:
    """Accuracy of each trial run the snnTorch way: faulty float weights, one forward each."""
    net.eval()
    out = []
    for faults in trials:
        q = list(qw.q)
        for f in faults:
            if f.q is not None:
                q[f.layer - 1] = f.q
        for fc, qi, s in zip(net.fcs, q, qw.scale):
            scale = s.unsqueeze(1) if s.dim() else s
            fc.weight.copy_(qi.to(fc.weight.device).float() * scale.to(fc.weight.device))
        pred = torch.cat([net(b).argmax(1).cpu() for b in inputs])
        out.append(float((pred == y.cpu()).float().mean()))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cuda or cpu")
    p.add_argument("--full", action="store_true", help="the GPU sizes even on the CPU")
    p.add_argument("--trials", type=int, default=None)
    p.add_argument("--samples", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    name = "cuda" if args.device == "auto" and torch.cuda.is_available() else args.device
    name = "cpu" if name == "auto" else name
    if name == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but no CUDA GPU is visible; use --device cpu", file=sys.stderr)
        return 2
    device = torch.device(name)
    size = dict(FULL if device.type == "cuda" or args.full else SMALL)
    size["trials"] = args.trials or size["trials"]
    size["samples"] = args.samples or size["samples"]
    topology, steps_t, batch = size["topology"], size["timesteps"], size["batch"]
    tt.TOPOLOGY = topology  # the peer definitions read it when they build
    label = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"{platform.processor() or platform.machine()} CPU, {os.cpu_count()} cores"
    print(f"device {label}; topology {'-'.join(map(str, topology))}, T={steps_t}, B={batch}",
          flush=True)

    # ----- training step --------------------------------------------------------------
    torch.manual_seed(args.seed)
    ours = tt.spikeloom_net().to(device)
    theirs = tt.snntorch_net().to(device)
    theirs.load_state_dict({k: v for k, v in ours.state_dict().items() if k.startswith("fcs.")},
                           strict=False)
    gen = torch.Generator().manual_seed(args.seed)
    x = (torch.rand(steps_t, batch, topology[0], generator=gen) < 0.3).float().to(device)
    y = torch.randint(0, topology[-1], (batch,), generator=gen).to(device)
    train = {}
    for label_, model in (("spikeloom", ours), ("snntorch", theirs)):
        ms, peak = time_training(model, x, y, size["steps"], device)
        train[label_] = {"ms_per_step": round(ms, 2), "peak_gpu_mib": peak}
        print(f"train {label_:<10} {ms:8.2f} ms/step  peak GPU {peak} MiB", flush=True)

    # ----- fault campaign ---------------------------------------------------------------
    cfg = ModelConfig(topology=topology, timesteps=steps_t, threshold=1.0)
    torch.manual_seed(args.seed)
    model = build_model(cfg).eval()
    with torch.no_grad():
        for fc in model.fcs:
            fc.weight.mul_(4.0)  # an untrained network that spikes
    qw = quantize_model(model, 8)
    qmodel = apply_quantized(model, qw).to(device)
    n = size["samples"]
    xs = torch.rand(n, topology[0], generator=gen) * (torch.rand(n, topology[0], generator=gen) < 0.5)
    ys = torch.randint(0, topology[-1], (n,), generator=gen)
    cc = CampaignConfig(bers=(1e-3,), trials=size["trials"], seed=args.seed)
    campaign: dict[str, dict] = {}
    accs = {}
    for engine in ("batched", "reference"):
        run_campaign(qmodel, cfg, xs[:50], ys[:50], cc.replace(trials=1, engine=engine))  # warm-up
        peak_reset(device)
        start = time.perf_counter()
        result = run_campaign(qmodel, cfg, xs, ys, cc.replace(engine=engine))
        sync(device)
        seconds = time.perf_counter() - start
        accs[engine] = list(result.results[0].accuracies)
        campaign[engine] = {"trials_per_s": round(size["trials"] / seconds, 3),
                            "peak_gpu_mib": peak_mib(device)}
        print(f"campaign {engine:<10} {campaign[engine]['trials_per_s']:8.3f} trials/s", flush=True)
    net = tt.snntorch_net().to(device)
    inputs = [b for _, b in eval_batches(cfg, xs, 0, device)]  # the encoding spikeloom uses
    trials = [sample_trial_faults(qw.q, 8, "bitflip", 1e-3, trial_seed(args.seed, 1e-3, k),
                                  tuple(range(1, len(topology))))
              for k in range(size["trials"])]
    snntorch_campaign(net, qw, inputs[:1], ys[:len(inputs[0][0])], trials[:1])  # warm-up
    peak_reset(device)
    start = time.perf_counter()
    accs["snntorch"] = snntorch_campaign(net, qw, inputs, ys, trials)
    sync(device)
    seconds = time.perf_counter() - start
    campaign["snntorch"] = {"trials_per_s": round(size["trials"] / seconds, 3),
                            "peak_gpu_mib": peak_mib(device)}
    print(f"campaign snntorch   {campaign['snntorch']['trials_per_s']:8.3f} trials/s", flush=True)
    identical = accs["batched"] == accs["reference"]
    print(json.dumps({
        "benchmark": "gpu", "device": label, "device_type": device.type,
        "topology": "-".join(map(str, topology)), "timesteps": steps_t, "batch": batch,
        "samples": n, "trials": size["trials"], "train": train, "campaign": campaign,
        "train_ratio": round(train["snntorch"]["ms_per_step"] / train["spikeloom"]["ms_per_step"], 2),
        "campaign_ratio": round(campaign["batched"]["trials_per_s"]
                                / campaign["snntorch"]["trials_per_s"], 2),
        "identical": identical,
        "snntorch_max_accuracy_diff": max(abs(a - b) for a, b in
                                          zip(accs["snntorch"], accs["reference"])),
        "load": " ".join(f"{v:.2f}" for v in os.getloadavg()),
    }))
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
