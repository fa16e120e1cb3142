"""Concurrent fault simulation of an SNN fed spikes: each trial is computed as its difference
from one clean pass, and only where the difference can matter.

Exactness. Spikes are 0/1 and weights are integers, so every accumulation S @ q^T is an
integer below 2^24 and exact in float32 in any summation order: the faulty accumulation
acc' = acc + dS @ q'^T + S @ (q' - q)^T equals the reference's S' @ q'^T bit for bit.
The neuron recurrence is re-run with the model's own `lif_sequence` (an elementwise scan, so a
pair's numbers do not depend on which other pairs share the call).

Skipping. While a pair's (neuron, sample) spikes are unchanged, its membrane moves by
dU[t] = sum_k beta^(t-k) dI[k], so |dU[t]| <= s (sum_t |dacc_A[t]| + sum_i |q'_i - q_i| F_i)
with F_i the largest beta-filtered input train of synapse i. A pair whose bound stays below
its clean distance to threshold min_t |U[t] - theta| (less a float rounding allowance) keeps
its spikes exactly, and is not simulated. At BER 1e-3 on a trained 784-128-64-10 SNN about
5% of the pairs change spikes and about 20% need simulating.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from spikeloom.data.protocol import EVAL_CHUNK, eval_batches
from spikeloom.faults.injection import LayerFaults
from spikeloom.quant import QuantizedWeights
from spikeloom.snn.neuron import LIFParameters, lif_sequence
from spikeloom.spec import ModelConfig

EXACT_LIMIT = 2 ** 24  # float32 holds every integer up to this exactly
ROUNDING_SLACK = 64  # rounding allowance in units of T * magnitude * 2^-24
DENSE_EVENTS = 64  # upstream changes denser than 1 in 64 entries go through one GEMM
PAIR_BUDGET = 2 ** 21  # (pair, changed synapse) rows expanded at once: bounds memory at high BER
SPIKE_ENCODINGS = ("rate", "latency")  # encoders whose output is 0/1 spikes


def delta_supported(cfg: ModelConfig, qw: QuantizedWeights, x_seq: torch.Tensor) -> bool:
    """Whether this engine applies: an SNN fed spikes (0/1) whose accumulations and weight
    differences (|q' - q| < 2^bits) stay below 2^24."""
    if cfg.arch != "snn":
        return False
    binary = cfg.encoding in SPIKE_ENCODINGS or bool(((x_seq == 0) | (x_seq == 1)).all())
    return binary and exact_accumulations(cfg, qw)


def exact_accumulations(cfg: ModelConfig, qw: QuantizedWeights) -> bool:
    """Whether every spike-driven accumulation (and weight difference) stays below 2^24."""
    return all(2 ** qw.bits * d <= EXACT_LIMIT for d in cfg.topology[:-1])


@dataclass
class Events:
    """Spike changes leaving a layer: neuron, sample, step, change (+1 / -1), all [E]."""

    neuron: torch.Tensor
    sample: torch.Tensor
    step: torch.Tensor
    value: torch.Tensor

    def __len__(self) -> int:
        return len(self.value)

    @staticmethod
    def cat(parts: list[Events]) -> Events:
        return Events(*(torch.cat([getattr(p, k) for p in parts])
                        for k in ("neuron", "sample", "step", "value")))


def _compact(values: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(sorted distinct values in [0, size), position of each value among them), no sort."""
    present = torch.zeros(size, dtype=torch.bool, device=values.device)
    present[values] = True
    position = torch.cumsum(present, 0) - 1
    return present.nonzero().flatten(), position[values]


def _filtered_max(trains: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """max_t sum_k beta^(t-k) x[k] of time-first spike trains [T, ...] -> [...]."""
    state = torch.zeros_like(trains[0])
    peak = torch.zeros_like(state)
    for t in range(trains.shape[0]):
        state.mul_(beta).add_(trains[t])
        torch.maximum(peak, state, out=peak)
    return peak * (1.0 + 1e-5)  # cover the rounding of this float filter


class _Layer:
    """One SNN layer's clean state, time innermost.

    q [H, D] float integers; source [D, N, T] clean input spikes (uint8 copy `source_u8` for
    gathers); acc [H, N, T] clean accumulations; spk [H, N, T] clean spikes; margin [H, N]
    min_t |U[t] - theta|; fmax [D, N] largest beta-filtered input train (from the time-first
    input `trains` [T, N, D] or [T, D, N]); eps: rounding allowance (same units as U).
    """

    def __init__(self, fc: nn.Module, neuron: nn.Module, q: torch.Tensor, source: torch.Tensor,
                 fmax: torch.Tensor) -> None:
        self.fc, self.neuron, self.q, self.source = fc, neuron, q, source
        self.source_u8 = source.to(torch.uint8)
        h, (d, n, steps) = q.shape[0], source.shape
        self.acc = (q @ source.view(d, -1)).view(h, n, steps)
        self.fmax = fmax
        self.spk = torch.empty(0)
        self.spk_time_first = torch.empty(0)
        self.margin = torch.empty(0)
        self.eps = 0.0

    def current(self, acc: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        """The reference's (acc * scale) + bias: acc [H, N, T], or [P, T] for pairs on `rows`."""
        scale, bias = self.fc.scale, self.fc.bias
        if rows is None:
            s = scale.reshape(-1, 1, 1) if scale.dim() else scale
            b = None if bias is None else bias.reshape(-1, 1, 1)
        else:
            s = scale[rows, None] if scale.dim() else scale
            b = None if bias is None else bias[rows, None]
        out = acc * s
        return out if b is None else out + b

    def row_scale(self) -> torch.Tensor:
        s = self.fc.scale
        return s.reshape(-1, 1) if s.dim() else s

    def params(self, threshold_scale: torch.Tensor | None = None) -> LIFParameters:
        """The neuron parameters the reference uses (a perturbed layer: per-neuron thresholds)."""
        p = self.neuron.parameters_now()
        if threshold_scale is not None:
            theta = self.neuron.threshold.detach() * threshold_scale.to(self.q.device)
            p = p._replace(threshold=theta.clamp(min=1e-6))
        return p

    def prepare_skipping(self, params: LIFParameters) -> None:
        """Clean spikes, distance to threshold and filtered input maxima."""
        cur = self.current(self.acc).permute(2, 0, 1).contiguous()  # [T, H, N]
        spk, mem = lif_sequence(cur, params, return_mem=True)
        theta = torch.as_tensor(params.threshold, device=mem.device)
        theta = theta.reshape(-1, 1) if theta.dim() else theta
        self.spk_time_first = spk  # [T, H, N], for the next layer's fmax
        self.spk = spk.permute(1, 2, 0).contiguous()
        self.margin = (mem - theta).abs().amin(0)
        magnitude = float(mem.abs().max()) + float(cur.abs().max()) + float(theta.max())
        self.eps = ROUNDING_SLACK * cur.shape[0] * magnitude * 2.0 ** -24


class DeltaEngine:
    """Per-trial accuracies identical to the reference engine (see the module docstring)."""

    name = "delta"

    @torch.no_grad()
    def __init__(self, model: nn.Module, cfg: ModelConfig, qw: QuantizedWeights,
                 x: torch.Tensor, y: torch.Tensor, eval_seed: int = 0,
                 x_seq: torch.Tensor | None = None) -> None:
        self.cfg, self.y = cfg, y
        device = next(model.parameters()).device
        if x_seq is None:
            x_seq = torch.cat([b for _, b in eval_batches(cfg, x, eval_seed, device)], dim=1)
        self.T, self.N = x_seq.shape[0], x_seq.shape[1]
        source = x_seq.permute(2, 1, 0).contiguous()  # [D, N, T]
        trains = x_seq  # time-first input of the current layer, for fmax
        self.layers: list[_Layer] = []
        self.membrane_readout = cfg.readout == "membrane"
        last = len(model.fcs) - 1
        for i, (fc, neuron) in enumerate(zip(model.fcs, model.lifs)):
            fmax = _filtered_max(trains, neuron.beta.detach().clamp(0.0, 1.0))
            fmax = fmax.t().contiguous() if i == 0 else fmax  # [D, N]
            layer = _Layer(fc, neuron, qw.q[i].to(device).float(), source, fmax)
            self.layers.append(layer)
            if i == last and self.membrane_readout:
                n = self.N
                logits = [neuron(layer.current(layer.acc[:, s:s + EVAL_CHUNK]).permute(2, 1, 0)
                                 .contiguous()).mean(0) for s in range(0, n, EVAL_CHUNK)]
                self.clean_logits = torch.cat(logits)  # [N, C] as the model computes them
                break
            layer.prepare_skipping(layer.params())
            source, trains = layer.spk, layer.spk_time_first
            layer.spk_time_first = torch.empty(0)
            if i == last:
                self.clean_logits = layer.spk.sum(2).t().contiguous()  # [N, C] spike counts
        self.clean_pred = self.clean_logits.argmax(1).cpu()

    def clean_accuracy(self) -> float:
        return float((self.clean_pred == self.y.cpu()).float().mean())

    @torch.no_grad()
    def accuracy(self, faults: list[LayerFaults]) -> float:
        if not faults:
            return self.clean_accuracy()
        by_layer = {f.layer: f for f in faults}
        deepest = max(by_layer)
        events: Events | None = None
        for i in range(min(by_layer) - 1, len(self.layers)):
            layer, lf = self.layers[i], by_layer.get(i + 1)
            if i == len(self.layers) - 1 and self.membrane_readout:
                return self._membrane_output(layer, lf, events)
            events = self._layer(layer, lf, events)
            if i == len(self.layers) - 1:
                counts_t = self.clean_logits.t().contiguous()  # [C, N]
                counts_t.view(-1).index_add_(0, events.neuron * self.N + events.sample, events.value)
                return self._accuracy_with(counts_t, events.sample)
            if len(events) == 0:
                if i + 1 >= deepest:
                    return self.clean_accuracy()
                events = None
        raise AssertionError("unreachable: the output layer returns")

    # ----- pieces of a trial -----------------------------------------------------------
    def _upstream(self, layer: _Layer, q: torch.Tensor, events: Events
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Accumulation change from upstream spike changes on the samples they touch:
        (samples [S], position of every sample or -1 [N], dacc [H, S, T])."""
        h, steps = q.shape[0], self.T
        samples, s_pos = _compact(events.sample, self.N)
        columns = s_pos * steps + events.step
        if len(events) * DENSE_EVENTS > q.shape[1] * len(samples) * steps:  # many: one GEMM
            spikes = torch.zeros(q.shape[1], len(samples) * steps, device=q.device)
            spikes[events.neuron, columns] = events.value
            dacc = (q @ spikes).view(h, len(samples), steps)
        else:
            dacc = torch.zeros(h, len(samples), steps, device=q.device)
            dacc.view(h, -1).index_add_(1, columns, q[:, events.neuron] * events.value)
        position = torch.full((self.N,), -1, dtype=torch.long, device=q.device)
        position[samples] = torch.arange(len(samples), device=q.device)
        return samples, position, dacc

    def _pairs_accumulation(self, layer: _Layer, rows: torch.Tensor, cols: torch.Tensor,
                            upstream, weight) -> torch.Tensor:
        """Exact faulty accumulations [P, T] of pairs (rows = neurons, cols = samples)."""
        n, steps = self.N, self.T
        acc = layer.acc.view(-1, steps).index_select(0, rows * n + cols)
        if upstream is not None:
            _, position, dacc = upstream
            m = position[cols]
            sel = (m >= 0).nonzero().flatten()
            acc[sel] += dacc.view(-1, steps).index_select(0, rows[sel] * dacc.shape[1] + m[sel])
        if weight is not None:
            nz_rows, nz_cols, nz_vals = weight
            per_row = torch.bincount(nz_rows, minlength=layer.q.shape[0])
            first = torch.cumsum(per_row, 0) - per_row
            reps_all = per_row[rows]
            ends = torch.cumsum(reps_all, 0)
            start = 0
            # Each pair expands to one [T] row per changed synapse of its neuron; at high BER
            # that is most of the weight matrix, so expand at most PAIR_BUDGET rows at a time.
            while start < len(rows):
                base = int(ends[start - 1]) if start else 0
                stop = max(start + 1, int(torch.searchsorted(ends, base + PAIR_BUDGET, right=True)))
                r, c, reps = rows[start:stop], cols[start:stop], reps_all[start:stop]
                pair = torch.repeat_interleave(torch.arange(len(r), device=rows.device), reps)
                offset = torch.arange(len(pair), device=rows.device) - (torch.cumsum(reps, 0) - reps)[pair]
                k = first[r[pair]] + offset
                src = layer.source_u8.view(-1, steps).index_select(0, nz_cols[k] * n + c[pair])
                acc[start:stop].index_add_(0, pair, src * nz_vals[k, None])  # uint8 * float -> float
                start = stop
        return acc

    def _candidates(self, layer: _Layer, lf: LayerFaults | None, upstream, weight,
                    skipping: bool) -> torch.Tensor:
        """Pairs [H, N] (bool) that must be simulated."""
        h, n = layer.q.shape[0], self.N
        bound = torch.zeros(h, n, device=layer.q.device)
        if upstream is not None:
            samples, _, dacc = upstream
            bound[:, samples] += dacc.abs().sum(2)
        if weight is not None:  # |sum_i d_i F_i| <= max(sum_{d>0} d_i Fmax_i, sum_{d<0} -d_i Fmax_i)
            nz_rows, nz_cols, nz_vals = weight
            sides = []
            for part in (nz_vals.clamp(min=0), (-nz_vals).clamp(min=0)):
                sparse = torch.sparse_coo_tensor(torch.stack([nz_rows, nz_cols]), part,
                                                 (h, layer.q.shape[1]), check_invariants=False)
                sides.append(torch.sparse.mm(sparse, layer.fmax))
            bound += torch.maximum(*sides)
        touched = bound > 0
        if skipping:
            touched &= bound * layer.row_scale() * (1.0 + 1e-5) >= layer.margin - layer.eps
        if lf is not None and lf.threshold_scale is not None:
            touched[lf.threshold_scale.to(touched.device) != 1.0] = True
        for mask in ([] if lf is None else [lf.dead, lf.saturated]):
            if mask is not None:
                touched[mask.to(touched.device)] = False
        return touched

    def _weight_delta(self, layer: _Layer, lf: LayerFaults | None):
        if lf is None or lf.q is None:
            return None, layer.q
        q_faulty = lf.q.to(layer.q.device).float()
        nz = (q_faulty != layer.q).nonzero()
        if len(nz) == 0:
            return None, q_faulty
        rows, cols = nz[:, 0], nz[:, 1]
        return (rows, cols, q_faulty[rows, cols] - layer.q[rows, cols]), q_faulty

    def _layer(self, layer: _Layer, lf: LayerFaults | None, events: Events | None) -> Events:
        """Spike changes this layer emits given upstream `events` and its own faults."""
        weight, q_faulty = self._weight_delta(layer, lf)
        upstream = self._upstream(layer, q_faulty, events) if events is not None else None
        touched = self._candidates(layer, lf, upstream, weight, skipping=True)
        rows, cols = touched.nonzero().unbind(1)
        parts = []
        if len(rows):
            acc = self._pairs_accumulation(layer, rows, cols, upstream, weight)
            p = layer.params(None if lf is None else lf.threshold_scale)
            if p.threshold.dim():
                p = p._replace(threshold=p.threshold[rows])
            new = lif_sequence(layer.current(acc, rows).t().contiguous(), p).t()
            old = layer.spk.view(-1, self.T).index_select(0, rows * self.N + cols)
            pair, step = (new != old).nonzero().unbind(1)
            parts.append(Events(rows[pair], cols[pair], step, (new - old)[pair, step]))
        for mask, value in ([] if lf is None else [(lf.dead, 0.0), (lf.saturated, 1.0)]):
            if mask is None:
                continue
            forced_rows = mask.to(layer.q.device).nonzero().flatten()
            change = value - layer.spk[forced_rows]  # [F, N, T]
            f, s, t = change.nonzero().unbind(1)
            parts.append(Events(forced_rows[f], s, t, change[f, s, t]))
        if not parts:
            empty = torch.empty(0, dtype=torch.long, device=layer.q.device)
            return Events(empty, empty, empty, torch.empty(0, device=layer.q.device))
        return Events.cat(parts)

    def _membrane_output(self, layer: _Layer, lf: LayerFaults | None,
                         events: Events | None) -> float:
        """Non-spiking readout: every touched pair is recomputed exactly (no skipping)."""
        weight, q_faulty = self._weight_delta(layer, lf)
        upstream = self._upstream(layer, q_faulty, events) if events is not None else None
        touched = self._candidates(layer, lf, upstream, weight, skipping=False)
        rows, cols = touched.nonzero().unbind(1)
        acc = self._pairs_accumulation(layer, rows, cols, upstream, weight)
        logits_t = self.clean_logits.t().contiguous()  # [C, N]
        mem = layer.neuron(layer.current(acc, rows).t().contiguous()).mean(0)
        logits_t.view(-1).index_copy_(0, rows * self.N + cols, mem)
        return self._accuracy_with(logits_t, cols)

    def _accuracy_with(self, logits_t: torch.Tensor, touched: torch.Tensor) -> float:
        """Accuracy when the samples `touched` have new logits (columns of logits_t [C, N])."""
        samples, _ = _compact(touched, self.N)
        pred = self.clean_pred.clone()
        if len(samples):
            pred[samples.cpu()] = logits_t[:, samples].t().argmax(1).cpu()
        return float((pred == self.y.cpu()).float().mean())
