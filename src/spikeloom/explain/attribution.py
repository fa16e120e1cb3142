"""Attribution methods with one verb, `attribute`, as in Captum.

Every input attribution takes a batch of samples [B, *sample] (an input train [B, T, D] for
an SNN, images [B, D] for an ANN) and a target class per sample, and returns one score per
input element: [B, T, D] for the temporal methods (saliency, IG, SAM), [B, D] per pixel for
occlusion. Positive means "evidence for the target". Scores are in units of the target logit
(output spikes for a count readout) except SAM, whose scores are NCS-weighted spikes.

`NeuronAblation` is the exception: it scores hidden neurons, not inputs, by the accuracy a
set of samples loses when the neuron is silenced.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from spikeloom.errors import ConfigError
from spikeloom.explain.forward import SampleForward, check_model, forward_current, trace
from spikeloom.snn.models import LIF, SpikingMLP


def _targets(target: int | torch.Tensor, batch: int, device: torch.device) -> torch.Tensor:
    t = torch.as_tensor(target, device=device, dtype=torch.long)
    return t.expand(batch) if t.dim() == 0 else t


def require_snn(model: nn.Module, method: str) -> None:
    if not isinstance(model, SpikingMLP):
        raise ConfigError(f"method {method!r} needs a spiking model, but this checkpoint is an "
                          f"ANN; drop {method!r} from --methods or give an SNN checkpoint")


class Saliency:
    """Surrogate-gradient saliency: d logit[target] / d input element.

    Signed by default (positive = adding this input spike raises the target logit); `abs=True`
    gives Simonyan et al.'s magnitude map. The spike non-linearity is differentiated with the
    model's surrogate gradient.
    """

    def __init__(self, model: nn.Module, abs: bool = False) -> None:  # noqa: A002 - Captum's name
        check_model(model)
        self.forward = SampleForward(model)
        self.abs = abs

    def attribute(self, samples: torch.Tensor, target: int | torch.Tensor) -> torch.Tensor:
        x = samples.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            logits = self.forward(x)
            picked = logits.gather(1, _targets(target, len(x), x.device)[:, None]).sum()
            (grad,) = torch.autograd.grad(picked, x)
        return grad.abs() if self.abs else grad


class IntegratedGradients:
    """Integrated Gradients (Sundararajan et al. 2017) through Captum, baseline = no input.

    Captum scales the whole input train by alpha in [0, 1] and integrates the surrogate
    gradient (`n_steps` Gauss-Legendre points). Each scaled copy is a fresh forward pass, so
    no membrane state carries from one call to the next. Completeness (sum of attributions =
    f(x) - f(baseline)) holds for smooth models; for spiking ones the surrogate gradient
    breaks it, and `return_convergence_delta=True` reports by how much.
    """

    def __init__(self, model: nn.Module, n_steps: int = 32, internal_batch_size: int = 64) -> None:
        check_model(model)
        if n_steps < 1:
            raise ConfigError(f"IG needs at least 1 integration step, got {n_steps}")
        self.forward = SampleForward(model)
        self.n_steps, self.internal_batch_size = n_steps, internal_batch_size

    def attribute(self, samples: torch.Tensor, target: int | torch.Tensor,
                  baselines: torch.Tensor | float = 0.0, return_convergence_delta: bool = False
                  ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        try:
            from captum.attr import IntegratedGradients as CaptumIG  # noqa: PLC0415
        except ImportError:
            raise ConfigError("integrated gradients needs Captum; install it with "
                              "\"pip install 'spikeloom[explain]'\" or drop 'ig' from --methods"
                              ) from None
        targets = _targets(target, len(samples), samples.device)
        ig = CaptumIG(self.forward)
        with torch.enable_grad():
            result = ig.attribute(samples.detach(), baselines=baselines, target=targets,
                                  n_steps=self.n_steps, internal_batch_size=self.internal_batch_size,
                                  return_convergence_delta=return_convergence_delta)
        if return_convergence_delta:
            attr, delta = result
            return attr.detach(), delta.detach()
        return result.detach()


def spike_activation_map(spikes: torch.Tensor, gamma: float = 0.4) -> torch.Tensor:
    """Kim and Panda (2021) per-neuron SAM: NCS[t] * S[t], same shape as spikes [T, ...].

    The neuronal contribution score NCS[t] = sum over the neuron's earlier spike times t' < t
    of exp(-gamma (t - t')): short inter-spike intervals score high. No gradients.
    """
    steps = spikes.shape[0]
    ncs = torch.zeros_like(spikes)
    decay = math.exp(-gamma)
    running = torch.zeros_like(spikes[0])  # sum_{t' < t} exp(-gamma (t - t')) S[t']
    for t in range(steps):
        ncs[t] = running
        running = decay * (running + spikes[t])
    return ncs * spikes


def project_to_inputs(relevance: torch.Tensor, inputs: torch.Tensor, weight: torch.Tensor,
                      beta: float | torch.Tensor) -> torch.Tensor:
    """Hand relevance of a layer down to its inputs by the positive-weight (z+) rule.

    relevance [T, B, N] of the layer's neurons; inputs [T, B, M] the spikes they received;
    weight [N, M]. An input spike at t' feeds the membrane at t >= t' with weight
    W+[n, m] beta^(t - t'), so R[t, n] is shared among those spikes in proportion to that
    share of the positive current. Returns [T, B, M]; total relevance is conserved wherever
    a neuron received any positive current.
    """
    w_pos = weight.clamp(min=0)
    steps = inputs.shape[0]
    trace_in = torch.zeros_like(inputs[0])
    shares = []
    for t in range(steps):  # positive current reaching each neuron at t from spikes at t' <= t
        trace_in = beta * trace_in + inputs[t]
        z = trace_in @ w_pos.T
        shares.append(torch.where(z > 0, relevance[t] / z.clamp(min=1e-12), torch.zeros_like(z)))
    back = torch.zeros_like(inputs[0])
    out = torch.empty_like(inputs)
    for t in range(steps - 1, -1, -1):  # sum over t >= t' of beta^(t - t') share[t] W+
        back = beta * back + shares[t] @ w_pos
        out[t] = inputs[t] * back
    return out


class SpikeActivationMap:
    """Spike Activation Map (Kim and Panda 2021) carried down to the input spikes.

    SAM scores the neurons of a spiking layer (default: the last hidden one) without
    gradients. In the paper's convolutional networks a feature map already lies on the
    image; an MLP's hidden neurons do not, so the map is handed down layer by layer to the
    input spikes with the positive-weight rule of `project_to_inputs`. With
    `class_weighted=True` each neuron's SAM is first weighted by its positive output weight
    to the target class (as CAM does), making the map class-specific; `False` gives the
    paper's class-agnostic map. Returns [B, T, D] in NCS-weighted spikes.
    """

    def __init__(self, model: nn.Module, gamma: float = 0.4, layer: int | None = None,
                 class_weighted: bool = True) -> None:
        check_model(model)
        require_snn(model, "sam")
        spiking = [i for i, m in enumerate(model.lifs) if isinstance(m, LIF)]
        hidden = [i for i in spiking if i < len(model.fcs) - 1]
        if not hidden:
            raise ConfigError("SAM needs a hidden spiking layer; this model has none "
                              "(train a topology with a hidden layer, e.g. 64-32-10)")
        self.layer = hidden[-1] if layer is None else layer
        if self.layer not in hidden:
            raise ConfigError(f"SAM layer {self.layer + 1} is not a hidden spiking layer; "
                              f"choose one of {[i + 1 for i in hidden]}")
        if gamma <= 0:
            raise ConfigError(f"SAM gamma must be > 0, got {gamma}")
        self.model, self.gamma, self.class_weighted = model, gamma, class_weighted

    @torch.no_grad()
    def attribute(self, samples: torch.Tensor, target: int | torch.Tensor) -> torch.Tensor:
        model = self.model
        x_seq = samples.transpose(0, 1)
        run = trace(model, x_seq)
        relevance = spike_activation_map(run.spikes[self.layer], self.gamma)  # [T, B, N]
        if self.class_weighted:
            w_out = _path_weight(model, self.layer)
            targets = _targets(target, len(samples), samples.device)
            relevance = relevance * w_out[targets].clamp(min=0)[None]
        for i in range(self.layer, -1, -1):
            inputs = run.spikes[i - 1] if i > 0 else x_seq
            relevance = project_to_inputs(relevance, inputs, model.fcs[i].weight,
                                          model.lifs[i].parameters_now().beta)
        return relevance.transpose(0, 1).contiguous()


def _path_weight(model: SpikingMLP, layer: int) -> torch.Tensor:
    """Product of the weights above `layer` to the output, [C, N_layer] (a linear view)."""
    w = model.fcs[-1].weight
    for i in range(len(model.fcs) - 2, layer, -1):
        w = w @ model.fcs[i].weight
    return w


class Occlusion:
    """Occlusion (Zeiler and Fergus 2014): logit[target] lost when a square window of pixels
    is removed (all its input spikes, for an SNN), averaged over the windows covering each
    pixel. Images must be square (side^2 = D); otherwise each pixel is its own window
    (feature ablation). Returns [B, D] in logit units (output spikes for a count readout).
    """

    def __init__(self, model: nn.Module, window: int | None = None, chunk: int = 256) -> None:
        check_model(model)
        self.forward = SampleForward(model)
        self.window, self.chunk = window, chunk

    def masks(self, features: int, device: torch.device) -> torch.Tensor:
        """Window masks [W, D] (1 = removed)."""
        side = math.isqrt(features)
        if side * side != features:
            return torch.eye(features, device=device)
        win = self.window or (3 if side >= 16 else 2)
        if not 1 <= win <= side:
            raise ConfigError(f"occlusion window {win} does not fit {side}x{side} images; "
                              f"choose 1..{side}")
        grid = torch.zeros(side - win + 1, side - win + 1, side, side, device=device)
        for r in range(side - win + 1):
            for c in range(side - win + 1):
                grid[r, c, r:r + win, c:c + win] = 1
        return grid.reshape(-1, features)

    @torch.no_grad()
    def attribute(self, samples: torch.Tensor, target: int | torch.Tensor) -> torch.Tensor:
        features = samples.shape[-1]
        masks = self.masks(features, samples.device)
        coverage = masks.sum(0).clamp(min=1)
        targets = _targets(target, len(samples), samples.device)
        out = torch.empty(len(samples), features, device=samples.device)
        for b, (sample, tgt) in enumerate(zip(samples, targets)):
            full = self.forward(sample[None])[0, tgt]
            drops = []
            for start in range(0, len(masks), self.chunk):
                keep = 1 - masks[start:start + self.chunk]
                view = keep[:, None, :] if sample.dim() == 2 else keep
                drops.append(full - self.forward(sample[None] * view)[:, tgt])
            out[b] = (torch.cat(drops) @ masks) / coverage
        return out


class NeuronAblation:
    """Importance of hidden neurons: accuracy lost on a set of samples when one neuron is
    silenced (its spikes, or ReLU output for an ANN, set to 0), every other neuron intact.

    `attribute(x_seq, labels)` takes model inputs ([T, B, D] SNN, [B, D] ANN) and labels [B];
    returns one tensor per hidden layer, [N_l], accuracy drop in [-1, 1] (fraction).
    """

    def __init__(self, model: nn.Module, chunk_rows: int = 8192) -> None:
        check_model(model)
        self.model, self.chunk_rows = model, chunk_rows

    @torch.no_grad()
    def attribute(self, x_seq: torch.Tensor, labels: torch.Tensor) -> list[torch.Tensor]:
        model = self.model
        spiking = isinstance(model, SpikingMLP)
        run = trace(model, x_seq)
        labels = labels.to(run.logits.device)
        base_hit = (run.logits.argmax(1) == labels).float()
        drops = []
        for layer in range(len(model.fcs) - 1):
            h = run.spikes[layer]  # [T, B, N] or [B, N]
            weight = model.fcs[layer + 1].weight  # [N_next, N]
            current = model.fcs[layer + 1](h)
            # Silencing neuron i only changes the samples in which it was active, so only
            # those (sample b, neuron i) pairs are re-run: current minus W[:, i] h_i.
            active = (h.sum(0) if spiking else h) != 0  # [B, N]
            samples, neurons = torch.nonzero(active, as_tuple=True)
            change = torch.zeros(h.shape[-1], device=h.device)
            for start in range(0, len(samples), self.chunk_rows):
                b = samples[start:start + self.chunk_rows]
                i = neurons[start:start + self.chunk_rows]
                if spiking:
                    cut = current[:, b] - h[:, b, i][..., None] * weight[:, i].T[None]
                else:
                    cut = current[b] - h[b, i][:, None] * weight[:, i].T
                hit = (forward_current(model, layer + 1, cut).argmax(1) == labels[b]).float()
                change.index_add_(0, i, hit - base_hit[b])
            drops.append((-change / len(labels)).cpu())
        return drops

