"""Unsupervised STDP in the style of Diehl & Cook (2015), batched on torch (CPU or CUDA).

Network: D rate-coded inputs -> N excitatory LIF neurons (the one hidden layer of the
topology D-N-C). Per timestep t, for every sample of a batch independently:

    x_pre  <- decay_pre * x_pre;   x_pre[i] = 1 where input i spikes          (pre trace)
    v      <- beta * v + W s_in                                             (membrane)
    winner  = argmax_j (v_j - thr_j) if that is > 0, thr_j = threshold + theta_j
    s_post  = one-hot(winner) (at most one spike per step: lateral inhibition as hard WTA)
    v[winner] <- 0;  v[others] <- v[others] - inhibition                   (reset, inhibition)
    x_post <- decay_post * x_post; x_post[winner] = 1                       (post trace)
    W      += eta_post * sum_b(s_post^T (x_pre - x_tar)) - eta_pre * sum_b(x_post^T s_in)
    theta  += theta_plus * sum_b(s_post)                                     (adaptive threshold)

then W is clipped to [0, w_max]; after each batch every neuron's incoming weights are
rescaled to sum to `norm` (weight normalisation) and theta decays by exp(-B / tau_theta), so
theta settles where a neuron fires theta / (theta_plus tau_theta) times per sample.
States reset between presentations.

After training each neuron is labelled with the class it responds to most (mean spike count
per class on training data) and a sample is classified by vote: the class whose neurons spike
most on average. Two readings are measured:

- `wta`: the training network frozen (inhibition kept), as Diehl & Cook test it;
- the exported checkpoint: an ordinary `SpikingMLP` D-N-C with zero reset. Its hidden layer
  holds W_j / thr_j (the adaptive thresholds folded into the weights, exact for zero reset,
  so the model threshold is 1); its output layer is the vote as a linear layer
  (W2[c, j] = 1 / n_c for the n_c neurons labelled c) read out as a non-spiking membrane
  (`readout='membrane'`). It has no lateral inhibition (a feed-forward MLP cannot hold it),
  so neurons are labelled on its own responses. This is what eval/quantize/faults/energy/
  explain/map run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from spikeloom.data.encoders import encode, make_generator
from spikeloom.data.registry import Dataset
from spikeloom.errors import ConfigError
from spikeloom.measure.accuracy import evaluate
from spikeloom.snn.checkpoint import Checkpoint
from spikeloom.snn.inference import spike_counts
from spikeloom.snn.models import build_model
from spikeloom.spec import ModelConfig, Spec, TrainConfig


@dataclass(frozen=True)
class StdpConfig(Spec):
    """STDP hyperparameters (timesteps are the model's T; per-step units).

    threshold: initial firing threshold (input current units); theta_plus: threshold increase
    per spike; tau_pre / tau_post: trace time constants in steps; eta_post / eta_pre:
    potentiation / depression rates; norm: sum of each neuron's incoming weights
    (None = 1 / mean pixel intensity, so the mean input current per step starts near 1);
    inhibition: membrane drop of the losers when a neuron spikes; tau_theta: decay time
    constant of theta, in presented samples (theta *= exp(-B / tau_theta) after a batch of B);
    x_tar: target pre-trace of Diehl & Cook's rule (on a post spike, inputs whose trace is
    below x_tar are depressed).
    """

    threshold: float = 2.5
    theta_plus: float = 0.3
    tau_pre: float = 4.0
    tau_post: float = 4.0
    eta_post: float = 0.005
    eta_pre: float = 0.0005
    w_max: float = 1.0
    norm: float | None = None
    inhibition: float = 20.0
    tau_theta: float = 5000.0
    x_tar: float = 0.6

    def __post_init__(self) -> None:
        for name in ("threshold", "tau_pre", "tau_post", "w_max", "tau_theta"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"STDP {name.replace('_', '-')} must be > 0, got {getattr(self, name)}")
        for name in ("theta_plus", "eta_post", "eta_pre", "inhibition", "x_tar"):
            if getattr(self, name) < 0:
                raise ConfigError(f"STDP {name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")
        if self.norm is not None and not self.norm > 0:
            raise ConfigError(f"STDP norm must be > 0, got {self.norm}")


@dataclass
class StdpState:
    """Learned quantities: W [N, D] in [0, w_max] and the threshold offsets theta [N]."""

    weight: torch.Tensor
    theta: torch.Tensor


def check_stdp_topology(cfg: ModelConfig) -> None:
    if len(cfg.topology) != 3:
        raise ConfigError(f"--method stdp needs one excitatory (hidden) layer, topology D-N-C, got "
                          f"{'-'.join(map(str, cfg.topology))}; e.g. 64-100-10")


def stdp_step(s_in: torch.Tensor, v: torch.Tensor, x_pre: torch.Tensor, x_post: torch.Tensor,
              st: StdpState, cfg: ModelConfig, sc: StdpConfig, learn: bool = True) -> torch.Tensor:
    """One timestep for a batch, in place on v, x_pre, x_post (and st when `learn`).

    s_in [B, D] input spikes; v, x_post [B, N]; x_pre [B, D]. Returns s_post [B, N].
    """
    x_pre.mul_(math.exp(-1.0 / sc.tau_pre))
    x_pre.masked_fill_(s_in > 0, 1.0)
    v.mul_(cfg.beta).add_(s_in @ st.weight.T)
    margin = v - (sc.threshold + st.theta)
    best, winner = margin.max(1)
    fired = best > 0
    s_post = torch.zeros_like(v)
    s_post[fired, winner[fired]] = 1.0
    v.sub_(fired.unsqueeze(1).to(v.dtype) * sc.inhibition)
    v.mul_(1.0 - s_post)
    x_post.mul_(math.exp(-1.0 / sc.tau_post))
    x_post.masked_fill_(s_post > 0, 1.0)
    if learn:
        st.weight.add_(s_post.T @ (x_pre - sc.x_tar), alpha=sc.eta_post)
        st.weight.sub_(x_post.T @ s_in, alpha=sc.eta_pre)
        st.weight.clamp_(0.0, sc.w_max)
        st.theta.add_(s_post.sum(0), alpha=sc.theta_plus)
    return s_post


def normalise(weight: torch.Tensor, norm: float) -> None:
    """Rescale each row (a neuron's incoming weights) to sum to `norm`, in place."""
    weight.mul_(norm / weight.sum(1, keepdim=True).clamp(min=1e-12))


def present(x: torch.Tensor, st: StdpState, cfg: ModelConfig, sc: StdpConfig,
            generator: torch.Generator | None, learn: bool) -> torch.Tensor:
    """Show a batch x [B, D] for T steps (rate-coded). Returns spike counts [B, N]."""
    trains = encode(x, "rate", cfg.timesteps, generator=generator)
    n = st.weight.shape[0]
    v = x.new_zeros(len(x), n)
    x_post = x.new_zeros(len(x), n)
    x_pre = x.new_zeros(x.shape)
    counts = x.new_zeros(len(x), n)
    for t in range(cfg.timesteps):
        counts += stdp_step(trains[t], v, x_pre, x_post, st, cfg, sc, learn)
    return counts


def assign_labels(counts: torch.Tensor, y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Each neuron's class: argmax over classes of its mean count per class. counts [S, N]."""
    per_class = torch.zeros(num_classes, counts.shape[1], dtype=torch.float64, device=counts.device)
    per_class.index_add_(0, y.to(counts.device), counts.double())
    sizes = torch.bincount(y.to(counts.device), minlength=num_classes).clamp(min=1).double()
    return (per_class / sizes.unsqueeze(1)).argmax(0)


def vote_matrix(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """W2 [C, N]: 1 / n_c where neuron j is labelled c (n_c neurons labelled c), else 0."""
    one_hot = torch.nn.functional.one_hot(labels.cpu(), num_classes).T.double()
    return (one_hot / one_hot.sum(1, keepdim=True).clamp(min=1)).float()


def vote(counts: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Predicted classes [S]: the class with the highest mean count of its neurons."""
    return (counts.double().cpu() @ vote_matrix(labels, num_classes).double().T).argmax(1)


@dataclass(frozen=True)
class StdpResult:
    checkpoint: Checkpoint
    test_accuracy: float
    wta_test_accuracy: float
    train_seconds: float


def export(st: StdpState, cfg: ModelConfig, sc: StdpConfig, tcfg: TrainConfig,
           labels: torch.Tensor | None = None) -> Checkpoint:
    """The feed-forward checkpoint (see module doc); labels None -> an all-zero vote layer."""
    export_cfg = cfg.replace(threshold=1.0, reset="zero", readout="membrane", encoding="rate", bias=False,
                             learn_beta=False, learn_threshold=False)
    model = build_model(export_cfg)
    state = model.state_dict()
    thr = (sc.threshold + st.theta).double().cpu().unsqueeze(1)
    state["fcs.0.weight"] = (st.weight.double().cpu() / thr).float()
    n_classes = cfg.topology[-1]
    state["fcs.1.weight"] = (vote_matrix(labels, n_classes) if labels is not None
                             else torch.zeros(n_classes, cfg.topology[1]))
    return Checkpoint(export_cfg, tcfg, {k: v.clone() for k, v in state.items()}, epoch=tcfg.epochs,
                      extra={"method": "stdp", "stdp_config": sc.to_dict(),
                             "theta": st.theta.cpu().tolist()})


def train_stdp(cfg: ModelConfig, tcfg: TrainConfig, sc: StdpConfig, data: Dataset,
               device: torch.device, log: Callable[[str], None] | None = None,
               label_samples: int | None = None) -> StdpResult:
    """Learn W and theta without labels, label the neurons, measure both readings."""
    check_stdp_topology(cfg)
    if cfg.topology[0] != data.input_size:
        raise ConfigError(f"topology input {cfg.topology[0]} does not match {data.name!r} "
                          f"({data.input_size} features)")
    x_train, y_train = data.x_train, data.y_train
    if tcfg.train_subset:
        x_train, y_train = x_train[: tcfg.train_subset], y_train[: tcfg.train_subset]
    n_in, n_exc = cfg.topology[0], cfg.topology[1]
    norm = sc.norm if sc.norm is not None else 1.0 / float(x_train.mean())
    torch.manual_seed(tcfg.seed)
    init = torch.rand(n_exc, n_in, generator=make_generator(tcfg.seed)).to(device) * 0.3 * sc.w_max
    normalise(init, norm)
    st = StdpState(init, torch.zeros(n_exc, device=device))
    shuffle_gen = make_generator(tcfg.seed + 1)
    encode_gen = make_generator(tcfg.seed + 2, device)
    t0 = time.perf_counter()
    for epoch in range(tcfg.epochs):
        order = torch.randperm(len(x_train), generator=shuffle_gen)
        for start in range(0, len(order), tcfg.batch_size):
            xb = x_train[order[start:start + tcfg.batch_size]].to(device)
            present(xb, st, cfg, sc, encode_gen, learn=True)
            normalise(st.weight, norm)
            st.theta.mul_(math.exp(-len(xb) / sc.tau_theta))
        if log:
            log(f"stdp epoch {epoch + 1}/{tcfg.epochs}: mean theta {float(st.theta.mean()):.3f}")
    seconds = time.perf_counter() - t0

    # Labels from the frozen WTA network (Diehl & Cook's test) on training data.
    n_label = label_samples or len(x_train)
    x_lab, y_lab = x_train[:n_label], y_train[:n_label]
    label_gen = make_generator(tcfg.seed + 3, device)

    def wta_counts(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return torch.cat([present(x[s:s + 500].to(device), st, cfg, sc, gen, learn=False).cpu()
                          for s in range(0, len(x), 500)])

    n_classes = cfg.topology[-1]
    wta_labels = assign_labels(wta_counts(x_lab, label_gen), y_lab, n_classes)
    wta_pred = vote(wta_counts(data.x_test, make_generator(tcfg.seed + 4, device)), wta_labels, n_classes)
    wta_acc = float((wta_pred == data.y_test).float().mean())

    # The exported feed-forward network, labelled on its own hidden responses.
    ckpt = export(st, cfg, sc, tcfg)
    model = ckpt.build(device)
    hidden = _hidden_counts(model, ckpt.model_config, x_lab, tcfg.seed + 3)
    labels = assign_labels(hidden, y_lab, n_classes)
    ckpt = export(st, cfg, sc, tcfg, labels)
    model = ckpt.build(device)
    acc = evaluate(model, ckpt.model_config, data.x_test, data.y_test, seed=tcfg.seed)
    counts = spike_counts(model, ckpt.model_config, data.x_test, seed=tcfg.seed)
    per_layer = [float(c.sum()) / len(data.x_test) for c in counts]
    ckpt.metrics.update(test_accuracy=acc, wta_test_accuracy=wta_acc, train_seconds=seconds,
                        spikes_per_layer=per_layer, spikes_per_sample=sum(per_layer[1:]))
    ckpt.extra.update(labels=labels.tolist(), wta_labels=wta_labels.tolist())
    return StdpResult(ckpt, acc, wta_acc, seconds)


def _hidden_counts(model: torch.nn.Module, cfg: ModelConfig, x: torch.Tensor, seed: int) -> torch.Tensor:
    """Hidden-layer spike counts [S, N] of the exported model (pipeline encoding and chunks)."""
    from spikeloom.data.protocol import eval_batches  # noqa: PLC0415
    from spikeloom.snn.activity import recording  # noqa: PLC0415

    device = next(model.parameters()).device
    out = []
    with torch.no_grad():
        for _, inputs in eval_batches(cfg, x, seed, device):
            with recording(model) as rec:
                model(inputs)
            out.append(rec.layers[0][0].sum(0).cpu())
    return torch.cat(out)
