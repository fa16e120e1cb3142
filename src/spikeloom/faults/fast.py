"""Fast engine: the same per-trial accuracies as the reference engine, computed from one clean
pass plus each trial's difference from it.

SNN with spike inputs (`DeltaEngine`), concurrent fault simulation in the spirit of digital
test:
* the input encoding and the clean network are evaluated once; every layer's integer
  accumulation acc = S @ q^T and its spikes are cached (neuron-major, [H, T, N]);
* a trial's faulty accumulation is acc' = acc + dS @ q'^T + S @ dq^T, with dq = q' - q
  sparse (at BER 1e-4..1e-3 almost every weight is untouched) and dS the spikes the faults
  changed upstream. Spikes and integers below 2^24 make every term an exact float32 integer,
  so acc' equals the reference's S' @ q'^T bit for bit whatever the summation order;
* the neuron recurrence is re-run (with the model's own `lif_sequence`, an elementwise scan)
  only for the (neuron, sample) pairs whose input changed, and only changed spikes travel on.
Predictions change only for samples whose output spikes changed.

Anything else (ANN, analogue inputs, bit widths whose sums could pass 2^24) uses
`PrefixEngine`: the clean activations entering every layer are cached per evaluation chunk and
a trial recomputes only from its first faulty layer, with the reference's own modules and
chunk shapes.
"""

from __future__ import annotations

import torch
from torch import nn

from spikeloom.faults.injection import LayerFaults
from spikeloom.faults.reference import faulty_model
from spikeloom.quant import QuantizedWeights
from spikeloom.snn.models import LIF
from spikeloom.snn.neuron import LIFParameters, lif_sequence
from spikeloom.spec import ModelConfig
from spikeloom.train import eval_batches

EXACT_LIMIT = 2 ** 24  # float32 holds every integer up to this exactly
DENSE_RATIO = 12.0  # dense gather+GEMM beats sparse mm when rows*cols < this * nnz


def _accuracy(pred: torch.Tensor, y: torch.Tensor) -> float:
    return float((pred.cpu() == y.cpu()).float().mean())


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _layer_forward(model: nn.Module, cfg: ModelConfig, i: int, h: torch.Tensor) -> torch.Tensor:
    """Layer i (0-based) of `model` exactly as its forward computes it."""
    h = model.fcs[i](h)
    if cfg.arch == "snn":
        return model.lifs[i](h)
    return torch.relu(h) if i < len(model.fcs) - 1 else h


def _logits(cfg: ModelConfig, h: torch.Tensor) -> torch.Tensor:
    if cfg.arch == "ann":
        return h
    return h.mean(0) if cfg.readout == "membrane" else h.sum(0)


class PrefixEngine:
    """Reuses the clean activations entering the first faulty layer; recomputes the rest with
    the faulty model's modules on the reference's chunks."""

    name = "fast"

    @torch.no_grad()
    def __init__(self, model: nn.Module, cfg: ModelConfig, qw: QuantizedWeights,
                 x: torch.Tensor, y: torch.Tensor, eval_seed: int = 0) -> None:
        self.model, self.cfg, self.qw, self.y = model.eval(), cfg, qw, y
        device = _device(model)
        self.inputs: list[list[torch.Tensor]] = [[] for _ in model.fcs]  # [layer][chunk]
        preds = []
        for _, h in eval_batches(cfg, x, eval_seed, device):
            for i in range(len(model.fcs)):
                self.inputs[i].append(h)
                h = _layer_forward(model, cfg, i, h)
            preds.append(_logits(cfg, h).argmax(1).cpu())
        self.clean_pred = torch.cat(preds)

    def clean_accuracy(self) -> float:
        return _accuracy(self.clean_pred, self.y)

    @torch.no_grad()
    def accuracy(self, faults: list[LayerFaults]) -> float:
        if not faults:
            return self.clean_accuracy()
        model = faulty_model(self.model, self.cfg, self.qw, faults)
        first = min(f.layer for f in faults) - 1
        preds = []
        for h in self.inputs[first]:
            for i in range(first, len(model.fcs)):
                h = _layer_forward(model, self.cfg, i, h)
            preds.append(_logits(self.cfg, h).argmax(1).cpu())
        return _accuracy(torch.cat(preds), self.y)


class _Layer:
    """Clean state of one SNN layer, time innermost: acc, spk [H, N, T] (integer
    accumulations, spikes); source: the clean input spikes [D, N*T]."""

    def __init__(self, q: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None,
                 neuron: nn.Module, source: torch.Tensor) -> None:
        self.q = q  # [H, D] float integers on the device
        self.scale = scale
        self.bias = bias
        self.neuron = neuron
        self.source = source
        self.acc = torch.empty(0)
        self.spk = torch.empty(0)

    def current(self, acc: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        """The reference's (acc * scale) + bias: acc [H, N, T] (rows None) or [P, T] for
        pairs on neuron `rows` [P]."""
        if rows is None:
            s = self.scale.reshape(-1, 1, 1) if self.scale.dim() else self.scale
            b = None if self.bias is None else self.bias.reshape(-1, 1, 1)
        else:
            s = self.scale[rows, None] if self.scale.dim() else self.scale
            b = None if self.bias is None else self.bias[rows, None]
        out = acc * s
        return out if b is None else out + b

    def params(self, threshold_scale: torch.Tensor | None = None) -> LIFParameters:
        p = self.neuron.parameters_now()
        if threshold_scale is not None:
            theta = (self.neuron.threshold.detach() * threshold_scale.to(self.q.device)).clamp(min=1e-6)
            p = p._replace(threshold=theta)
        return p


def delta_supported(model: nn.Module, cfg: ModelConfig, qw: QuantizedWeights,
                    x_seq: torch.Tensor) -> bool:
    """Whether the exact-integer delta engine applies: an SNN fed spikes (0/1) whose
    accumulations and weight differences (|q' - q| < 2^bits) stay below 2^24."""
    if cfg.arch != "snn":
        return False
    if not bool(((x_seq == 0) | (x_seq == 1)).all()):
        return False
    return all(2 ** qw.bits * d <= EXACT_LIMIT for d in cfg.topology[:-1])


def _time_first(values: torch.Tensor) -> torch.Tensor:
    """[P, T] -> contiguous [T, P] (the layout the neuron kernels run on)."""
    return values.t().contiguous()


class DeltaEngine:
    """Concurrent fault simulation of an SNN with spike inputs (see the module docstring)."""

    name = "fast"

    @torch.no_grad()
    def __init__(self, model: nn.Module, cfg: ModelConfig, qw: QuantizedWeights,
                 x: torch.Tensor, y: torch.Tensor, eval_seed: int = 0,
                 x_seq: torch.Tensor | None = None) -> None:
        self.model, self.cfg, self.qw, self.y = model.eval(), cfg, qw, y
        device = _device(model)
        if x_seq is None:
            x_seq = torch.cat([b for _, b in eval_batches(cfg, x, eval_seed, device)], dim=1)
        steps, n, d = x_seq.shape
        self.T, self.N = steps, n
        source = x_seq.permute(2, 1, 0).reshape(d, n * steps).contiguous()
        del x_seq
        self.layers: list[_Layer] = []
        last = len(model.fcs) - 1
        for i, (fc, neuron) in enumerate(zip(model.fcs, model.lifs)):
            layer = _Layer(qw.q[i].to(device).float(), fc.scale, fc.bias, neuron, source)
            layer.acc = (layer.q @ source).view(-1, n, steps)
            self.layers.append(layer)
            if i == last and cfg.readout == "membrane":
                logits = [neuron(layer.current(layer.acc[:, rows]).permute(2, 1, 0).contiguous())
                          .mean(0) for rows in _chunks(n)]
                self.clean_logits = torch.cat(logits)  # [N, C], as the model computes them
                break
            spk = lif_sequence(layer.current(layer.acc).permute(2, 0, 1).contiguous(), layer.params())
            layer.spk = spk.permute(1, 2, 0).contiguous()  # [H, N, T]
            source = layer.spk.view(layer.spk.shape[0], -1)
            if i == last:
                self.clean_logits = layer.spk.sum(2).t().contiguous()  # [N, C] spike counts
        self.clean_pred = self.clean_logits.argmax(1).cpu()

    def clean_accuracy(self) -> float:
        return _accuracy(self.clean_pred, self.y)

    # ----- one trial -------------------------------------------------------------------
    def _weight_delta(self, layer: _Layer, q_faulty: torch.Tensor, dacc: torch.Tensor) -> None:
        """dacc += S @ (q' - q)^T on the clean input spikes (exact integers)."""
        diff = q_faulty.to(layer.q.device).float() - layer.q
        nz = diff.nonzero()
        if len(nz) == 0:
            return
        rows, row_inv = _compact(nz[:, 0], diff.shape[0])
        cols, col_inv = _compact(nz[:, 1], diff.shape[1])
        values = diff[nz[:, 0], nz[:, 1]]
        flat = dacc.view(dacc.shape[0], -1)
        if len(rows) * len(cols) < DENSE_RATIO * len(nz):
            small = torch.zeros(len(rows), len(cols), device=diff.device)
            small[row_inv, col_inv] = values
            flat[rows] += small @ layer.source[cols]
        else:
            sub = torch.sparse_coo_tensor(torch.stack([row_inv, nz[:, 1]]), values,
                                          (len(rows), diff.shape[1]), check_invariants=False)
            flat[rows] += torch.sparse.mm(sub.coalesce(), layer.source)

    @torch.no_grad()
    def accuracy(self, faults: list[LayerFaults]) -> float:
        if not faults:
            return self.clean_accuracy()
        by_layer = {f.layer: f for f in faults}
        first, deepest = min(by_layer), max(by_layer)
        n, steps = self.N, self.T
        # spike changes leaving the previous layer: flat pair index (neuron * N + sample) and
        # the change of that pair's spike train [P, T] (-1, 0, +1)
        pairs, moves = None, None
        for i in range(first - 1, len(self.layers)):
            layer, lf = self.layers[i], by_layer.get(i + 1)
            device, h = layer.q.device, layer.q.shape[0]
            q_faulty = layer.q if lf is None or lf.q is None else lf.q.to(device).float()
            dacc = torch.zeros(h, n, steps, device=device)
            if pairs is not None:  # upstream spike changes through the (faulty) weights
                _add_upstream(dacc, q_faulty, pairs, moves, n)
            if lf is not None and lf.q is not None:  # faulty weights on the clean spikes
                self._weight_delta(layer, lf.q, dacc)
            flat_dacc = dacc.view(h * n, steps)
            hit = (flat_dacc != 0).any(1)  # [H*N] pairs whose input changed
            threshold_scale = None if lf is None else lf.threshold_scale
            if threshold_scale is not None:
                hit.view(h, n)[threshold_scale.to(device) != 1.0] = True
            forced = [] if lf is None else [(m.to(device), v) for m, v in
                                            ((lf.dead, 0.0), (lf.saturated, 1.0)) if m is not None]
            for mask, _ in forced:
                hit.view(h, n)[mask] = False
            idx = hit.nonzero().flatten()
            rows = torch.div(idx, n, rounding_mode="floor")
            acc_p = layer.acc.view(h * n, steps).index_select(0, idx) + flat_dacc.index_select(0, idx)
            del dacc, flat_dacc
            cur_p = _time_first(layer.current(acc_p, rows))  # [T, P]
            if i == len(self.layers) - 1 and self.cfg.readout == "membrane":
                logits_t = self.clean_logits.t().contiguous()  # [C, N]
                logits_t.view(-1).index_copy_(0, idx, layer.neuron(cur_p).mean(0))
                return self._accuracy_with(logits_t, idx % n)
            p = layer.params(threshold_scale)
            if p.threshold.dim():
                p = p._replace(threshold=p.threshold[rows])
            old = layer.spk.view(h * n, steps)
            delta = lif_sequence(cur_p, p).t() - old.index_select(0, idx)  # [P, T]
            keep = (delta != 0).any(1)
            pairs, moves = idx[keep], delta[keep]
            for mask, value in forced:
                f_idx = (mask.nonzero() * n + torch.arange(n, device=device)).flatten()
                f_delta = value - old.index_select(0, f_idx)
                f_keep = (f_delta != 0).any(1)
                pairs = torch.cat([pairs, f_idx[f_keep]])
                moves = torch.cat([moves, f_delta[f_keep]])
            if i == len(self.layers) - 1:
                counts_t = self.clean_logits.t().contiguous()  # [C, N] spike counts
                counts_t.view(-1).index_add_(0, pairs, moves.sum(1))
                return self._accuracy_with(counts_t, pairs % n)
            if len(pairs) == 0:
                if i + 1 >= deepest:
                    return self.clean_accuracy()
                pairs = None
        raise AssertionError("unreachable: the output layer returns")

    def _accuracy_with(self, logits_t: torch.Tensor, touched: torch.Tensor) -> float:
        """Accuracy when samples `touched` have new logits (columns of logits_t [C, N])."""
        samples, _ = _compact(touched, self.N)
        pred = self.clean_pred.clone()
        if len(samples):
            pred[samples.cpu()] = logits_t[:, samples].t().argmax(1).cpu()
        return _accuracy(pred, self.y)


def _compact(values: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(sorted distinct values in [0, size), position of each value among them), without a sort."""
    present = torch.zeros(size, dtype=torch.bool, device=values.device)
    present[values] = True
    position = torch.cumsum(present, 0) - 1
    return present.nonzero().flatten(), position[values]


def _add_upstream(dacc: torch.Tensor, q: torch.Tensor, pairs: torch.Tensor, moves: torch.Tensor,
                  n: int) -> None:
    """dacc[:, samples] += q[:, neurons] @ dS for the spike changes `moves` [P, T] of flat
    pairs (neuron * n + sample); exact integers."""
    neurons, n_pos = _compact(torch.div(pairs, n, rounding_mode="floor"), q.shape[1])
    samples, s_pos = _compact(pairs % n, n)
    steps = moves.shape[1]
    dense = torch.zeros(len(neurons) * len(samples), steps, device=moves.device)
    dense.index_copy_(0, n_pos * len(samples) + s_pos, moves)
    prod = q[:, neurons] @ dense.view(len(neurons), -1)  # [H, S*T]
    dacc.index_add_(1, samples, prod.view(q.shape[0], len(samples), steps))


def _chunks(n: int) -> list[slice]:
    from spikeloom.train import EVAL_CHUNK  # noqa: PLC0415

    return [slice(s, min(s + EVAL_CHUNK, n)) for s in range(0, n, EVAL_CHUNK)]


def FastEngine(model: nn.Module, cfg: ModelConfig, qw: QuantizedWeights, x: torch.Tensor,
               y: torch.Tensor, eval_seed: int = 0) -> DeltaEngine | PrefixEngine:
    """The fastest exact engine for this model: `DeltaEngine` or `PrefixEngine`."""
    if cfg.arch == "snn" and all(isinstance(m, LIF) for m in list(model.lifs)[:-1]):
        device = _device(model)
        x_seq = torch.cat([b for _, b in eval_batches(cfg, x, eval_seed, device)], dim=1)
        if delta_supported(model, cfg, qw, x_seq):
            return DeltaEngine(model, cfg, qw, x, y, eval_seed, x_seq=x_seq)
    return PrefixEngine(model, cfg, qw, x, y, eval_seed)
