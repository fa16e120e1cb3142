"""Compiled concurrent fault simulation (numba): the delta engine's method, one sample per loop
iteration instead of one tensor operation per step, so that a trial costs milliseconds.

Same exactness argument as `faults/delta.py`: spikes are 0/1 and weights integers, so every
accumulation is an exact float32 integer in any order; the neuron recurrence is the
reference's own sequence of float32 operations, ((beta * U) + I) - S * theta and U > theta,
with no fused multiply-add (numba contracts nothing without fastmath). Spike trains of one
(sample, neuron) are bit masks (T <= 64), so a changed train is one integer comparison.

A layer runs *sparse* (per sample: the accumulation change of every neuron from the changed
input trains, the bound on the membrane change from weight faults, and the exact simulation
of only the pairs the bound cannot rule out) or *dense* (one GEMM over all samples, every pair
simulated) when the changes are too many for sparse work to pay.
"""

from __future__ import annotations

from contextlib import contextmanager

import numba
import numpy as np
import torch
from numba import njit, prange
from torch import nn

from spikeloom.data.protocol import EVAL_CHUNK, chunk_seed, eval_batches
from spikeloom.faults.delta import ROUNDING_SLACK
from spikeloom.faults.injection import LayerFaults
from spikeloom.faults.mt19937 import rate_bits
from spikeloom.quant import QuantizedWeights
from spikeloom.snn.models import LIF
from spikeloom.spec import ModelConfig

MAX_STEPS = 64  # spike trains are uint64 bit masks
DENSE_FRACTION = 1 / 2  # changed inputs (or faulty weights) above this share: one GEMM
CHUNK = 500  # samples per dense GEMM


# ----- kernels ------------------------------------------------------------------------------
# A layer's spike changes are (cnt [N], idx [N, H], val [N, H]): sample n has cnt[n] changed
# trains, of neurons idx[n, :cnt[n]], whose new masks are val[n, :cnt[n]].

_DEBRUIJN = np.uint64(0x03F79D71B4CB0A89)
_POSITION = np.zeros(64, np.int64)  # bit position of a power of two, by de Bruijn hashing
for _t in range(64):
    _POSITION[((1 << _t) * 0x03F79D71B4CB0A89 & (2 ** 64 - 1)) >> 58] = _t


@njit(cache=True, inline="always")
def _lowest(word):
    """(lowest set bit of a nonzero word, as a mask; its position)."""
    bit = word & (~word + np.uint64(1))
    return bit, _POSITION[(bit * _DEBRUIJN) >> np.uint64(58)]


@njit(cache=True, parallel=True)
def _pack(x, bits):  # x [T, c, D] float32 0/1 -> bits [c, D] (bit t = step t)
    steps, c, d = x.shape
    for n in prange(c):
        row = bits[n]
        row[:] = 0
        for t in range(steps):
            for j in range(d):
                row[j] |= np.uint64(x[t, n, j] != 0) << np.uint64(t)


@njit(cache=True, parallel=True)
def _unpack(bits, cnt, idx, val, start, stop, steps, out):
    """Trains of samples start:stop, with their changes applied, as 0/1 floats out [c, T, D]."""
    d = bits.shape[1]
    for n in prange(start, stop):
        row = out[n - start]
        for j in range(d):
            word = bits[n, j]
            for t in range(steps):
                row[t, j] = np.float32((word >> np.uint64(t)) & np.uint64(1))
        for e in range(cnt[n]):
            j, word = idx[n, e], val[n, e]
            for t in range(steps):
                row[t, j] = np.float32((word >> np.uint64(t)) & np.uint64(1))


@njit(cache=True, parallel=True)
def _filtered_max(bits, steps, beta, out):
    """max_t sum_k beta^(t-k) x[k] of every train bits [N, D] -> out [D, N], with slack for
    float32 rounding."""
    n_samples, d = bits.shape
    for n in prange(n_samples):
        state = np.zeros(d, np.float32)
        peak = np.zeros(d, np.float32)
        for t in range(steps):
            for j in range(d):
                state[j] = state[j] * beta + np.float32((bits[n, j] >> np.uint64(t)) & np.uint64(1))
                peak[j] = max(peak[j], state[j])
        for j in range(d):
            out[j, n] = peak[j] * np.float32(1.0 + 1e-4)


@njit(cache=True)
def _lif_lanes(a, s, b, beta, theta, subtract, words, state, low, top, track=True):
    """k neurons at once (lanes, vectorized) from accumulations a [T, k] (float32 integers),
    in the reference's float32 operations: I = a * s + b; U = ((beta * U) + I) - S * theta
    (or ((beta * U) * (1 - S)) + I); S = U > theta. S * theta is exactly 0 or theta, so the
    branch-free form rounds as the reference. s, b, theta [k]; state [2, k] scratch (U, S).
    Writes spike masks words [k] and, when `track`, min_t |U - theta| low [k] and
    (max_t |U|, max_t |I|) into top [2]. Lanes beyond k of the arrays are ignored."""
    steps, k = a.shape
    m, fired = state[0], state[1]
    for c in range(k):  # U = S = 0 before the first step: its update then gives U = I exactly
        words[c] = 0
        m[c], fired[c] = 0.0, 0.0
        if track:
            low[c] = np.inf
    top_m, top_c = np.float32(0.0), np.float32(0.0)
    for t in range(steps):
        bit = np.uint64(1) << np.uint64(t)
        for c in range(k):
            cur = a[t, c] * s[c] + b[c]
            if subtract:
                u = (m[c] * beta + cur) - fired[c] * theta[c]
            else:
                u = (m[c] * beta) * (np.float32(1.0) - fired[c]) + cur
            m[c] = u
            spike = u > theta[c]
            fired[c] = np.float32(spike)
            words[c] |= np.uint64(spike) * bit
            if track:
                low[c] = min(low[c], abs(u - theta[c]))
                top_m, top_c = max(top_m, abs(u)), max(top_c, abs(cur))
    top[0], top[1] = max(top[0], top_m), max(top[1], top_c)


@njit(cache=True, parallel=True)
def _clean_layer(in_bits, q_t, s, b, beta, theta, subtract, acc, bits, margin, peaks):
    """Clean pass of every sample from its input trains in_bits [N, D] through q_t [D, H]
    (transposed integer weights; each input spike adds its row, exact in any order): writes
    accumulations acc [N, T, H], spike masks bits [N, H], margins min_t |U - theta| [N, H] and
    per-sample (max |U|, max |I|) peaks [N, 2]."""
    n_samples, h = bits.shape
    steps = acc.shape[1]
    blocks = min(n_samples, 256)
    for block in prange(blocks):
        a = np.empty((steps, h), acc.dtype)  # int16 when it fits: twice the lanes per add
        lanes, state = np.empty((steps, h), np.float32), np.empty((2, h), np.float32)
        for n in range(block * n_samples // blocks, (block + 1) * n_samples // blocks):
            a[:] = 0
            for j in range(in_bits.shape[1]):
                word = in_bits[n, j]
                while word:
                    bit, t = _lowest(word)
                    for i in range(h):
                        a[t, i] += q_t[j, i]
                    word ^= bit
            acc[n] = a
            for t in range(steps):
                for i in range(h):
                    lanes[t, i] = a[t, i]
            peaks[n] = 0.0
            _lif_lanes(lanes, s, b, beta, theta, subtract, bits[n], state, margin[n], peaks[n])


@njit(cache=True, inline="always")
def _record(n, rows, words, k, clean, cnt, idx, val):
    """Write the trains of rows[:k] that differ from the clean ones as sample n's changes."""
    out = 0
    for c in range(k):
        if words[c] != clean[n, rows[c]]:
            idx[n, out], val[n, out] = rows[c], words[c]
            out += 1
    cnt[n] = out


@njit(cache=True, parallel=True)
def _dense_layer(acc, start, s, b, beta, theta, forced, subtract, full, clean, cnt, idx, val):
    """Every neuron of samples start:start+c simulated from faulty accumulations acc [c, T, H]."""
    c, steps, h = acc.shape
    rows = np.arange(h)
    for n in prange(c):
        words, state = np.empty(h, np.uint64), np.empty((2, h), np.float32)
        _lif_lanes(acc[n], s, b, beta, theta, subtract, words, state, state[0], state[0], False)
        for i in range(h):
            if forced[i] >= 0:
                words[i] = full if forced[i] == 1 else np.uint64(0)
        _record(start + n, rows, words, h, clean, cnt, idx, val)


@njit(cache=True, parallel=True)
def _sparse_layer(acc, s, b, beta, theta, theta_changed, forced, subtract, full, in_clean,
                  cnt_in, idx_in, val_in, qf_t, w_ptr, w_j, w_d, fmax_t, margin, eps, clean,
                  cnt, idx, val):
    """Spike changes of the neurons whose bound cannot rule a change out (the others keep
    their clean trains). acc [N, T, H] clean accumulations. Upstream changes: (cnt_in,
    idx_in, val_in). Weights: qf_t [D, H] faulty, transposed; w_ptr [H + 1], w_j, w_d: per
    neuron the synapses whose weight changed, and by how much; fmax_t [D, N] the largest
    beta-filtered value of each input train.

    Bound on a neuron's membrane change while its spikes are unchanged (in accumulation
    units, times the scale): upstream, max_t |sum_k beta^(t-k) dacc[k]| with a subtractive
    reset (equal resets cancel) or sum_t |dacc[t]| with a zero reset; weights, the larger of
    the positive and negative sums of dq_j x max_t (beta-filtered input j).
    """
    n_samples, steps, h = acc.shape
    every = np.arange(h)
    forced_rows = np.nonzero(forced >= 0)[0]
    active = np.nonzero((w_ptr[1:] > w_ptr[:-1]) | theta_changed)[0]
    weight_faults = w_ptr[-1] > 0
    slot = np.full(h, -1, np.int64)
    slot[active] = np.arange(len(active))
    # weight part of the bound for every (active neuron, sample): streams rows of fmax_t
    weight_bound = np.zeros((len(active), n_samples), np.float32)
    for r in prange(len(active)):
        pos, neg = np.zeros(n_samples, np.float32), np.zeros(n_samples, np.float32)
        for e in range(w_ptr[active[r]], w_ptr[active[r] + 1]):
            d = w_d[e]
            if d > 0:
                pos += d * fmax_t[w_j[e]]
            else:
                neg -= d * fmax_t[w_j[e]]
        weight_bound[r] = np.maximum(pos, neg) * np.float32(1.0 + 1e-5)
    blocks = min(n_samples, 256)
    for block in prange(blocks):
        bound, state = np.empty(h), np.empty(h)  # scratch, reused for the block's samples
        dacc = np.empty((steps, h), np.float32)
        flat = np.empty(steps * h, np.float32)  # lanes: [T, h] or, contiguous, [T, k]
        row_in = np.empty(in_clean.shape[1], np.uint64)
        rows, words = np.empty(h, np.int64), np.empty(h, np.uint64)
        every_word = np.empty(h, np.uint64)
        change = np.empty(steps, np.float32)
        s_k, b_k = np.empty(h, np.float32), np.empty(h, np.float32)
        theta_k, low = np.empty(h, np.float32), np.empty(h, np.float32)
        top, lif = np.zeros(2, np.float32), np.empty((2, h), np.float32)
        for n in range(block * n_samples // blocks, (block + 1) * n_samples // blocks):
            upstream = cnt_in[n]
            cnt[n] = 0
            if upstream == 0 and len(active) == 0 and len(forced_rows) == 0:
                continue
            first = steps  # the earliest step an input train changed: dacc is 0 before it
            for e in range(upstream):
                first = min(first, _lowest(val_in[n, e] ^ in_clean[n, idx_in[n, e]])[1])
            if upstream:
                bound[:] = 0.0
                dacc[first:] = 0.0
                for e in range(upstream):
                    j, new = idx_in[n, e], val_in[n, e]
                    flips = new ^ in_clean[n, j]
                    while flips:  # each changed step of input j: + or - its column
                        bit, t = _lowest(flips)
                        sign = np.float32(1.0) if new & bit else np.float32(-1.0)
                        for i in range(h):
                            dacc[t, i] += sign * qf_t[j, i]
                        flips ^= bit
                if subtract:
                    state[:] = 0.0
                    for t in range(first, steps):
                        for i in range(h):
                            state[i] = state[i] * beta + dacc[t, i]
                            bound[i] = max(bound[i], abs(state[i]))
                else:
                    for t in range(first, steps):
                        for i in range(h):
                            bound[i] += abs(dacc[t, i])
            scan = every if upstream else active  # without upstream changes only these can change
            k = 0
            for r in range(len(scan)):
                i = scan[r]
                if forced[i] >= 0:
                    continue
                limit = bound[i] if upstream else 0.0
                if slot[i] >= 0:
                    limit += weight_bound[slot[i], n]
                if theta_changed[i] or (
                        limit > 0.0
                        and limit * float(s[i]) * (1.0 + 1e-5) >= float(margin[n, i]) - eps):
                    rows[k], s_k[k], b_k[k], theta_k[k] = i, s[i], b[i], theta[i]
                    k += 1
            if k:
                whole = 4 * k >= h  # most neurons: simulate the whole sample, h lanes, no gathers
                a = flat.reshape(steps, h) if whole else flat[:steps * k].reshape(steps, k)
                if whole:  # explicit loops: numba's mixed-type array assignment is slow
                    for t in range(steps):
                        if t >= first:
                            for i in range(h):
                                a[t, i] = np.float32(acc[n, t, i]) + dacc[t, i]
                        else:
                            for i in range(h):
                                a[t, i] = acc[n, t, i]
                else:  # a few: gather them into k lanes
                    for t in range(steps):
                        for c in range(k):
                            a[t, c] = acc[n, t, rows[c]]
                        if t >= first:
                            for c in range(k):
                                a[t, c] += dacc[t, rows[c]]
                if weight_faults:  # one sequential copy (prefetched) instead of ~100 misses
                    row_in[:] = in_clean[n]
                for c in range(k):  # the candidates' weight faults, on their clean inputs
                    if w_ptr[rows[c] + 1] == w_ptr[rows[c]]:
                        continue
                    change[:] = 0.0  # contiguous in time: vectorized adds
                    for e in range(w_ptr[rows[c]], w_ptr[rows[c] + 1]):
                        word, d = row_in[w_j[e]], w_d[e]
                        if word:
                            for t in range(steps):
                                change[t] += d * np.float32((word >> np.uint64(t)) & np.uint64(1))
                    lane = rows[c] if whole else c
                    for t in range(steps):
                        a[t, lane] += change[t]
                if whole:
                    _lif_lanes(a, s, b, beta, theta, subtract, every_word, lif, low, top, False)
                    for c in range(k):
                        words[c] = every_word[rows[c]]  # other lanes lack their weight faults
                else:
                    _lif_lanes(a, s_k, b_k, beta, theta_k, subtract, words, lif, low, top,
                               False)
            for i in forced_rows:
                rows[k], words[k] = i, full if forced[i] == 1 else np.uint64(0)
                k += 1
            _record(n, rows, words, k, clean, cnt, idx, val)


@njit(cache=True)
def _most_spikes(row):
    """Index of the train with the most spikes (first maximum, as torch.argmax)."""
    best, arg = -1, 0
    for k in range(len(row)):
        word, count = row[k], 0
        while word:
            word &= word - np.uint64(1)
            count += 1
        if count > best:
            best, arg = count, k
    return arg


@njit(cache=True)
def _predict(out):  # [N, C] output spike masks -> predicted class [N]
    pred = np.empty(out.shape[0], np.int64)
    for n in range(out.shape[0]):
        pred[n] = _most_spikes(out[n])
    return pred


@njit(cache=True)
def _correct_with(clean, cnt, idx, val, clean_pred, y, correct):
    """Correct predictions once the samples whose output trains changed are re-decided."""
    total = correct
    for n in range(clean.shape[0]):
        if cnt[n]:
            row = clean[n].copy()
            for e in range(cnt[n]):
                row[idx[n, e]] = val[n, e]
            total += int(_most_spikes(row) == y[n]) - int(clean_pred[n] == y[n])
    return total


# ----- engine -------------------------------------------------------------------------------
def compiled_supported(cfg: ModelConfig, model: nn.Module) -> bool:
    """Spike-count readout, LIF in every layer, at most 64 steps."""
    return (cfg.arch == "snn" and cfg.readout == "count" and cfg.timesteps <= MAX_STEPS
            and all(isinstance(m, LIF) for m in model.lifs))


@contextmanager
def _torch_threads():
    """numba's kernels use torch's thread count; starting numba's OpenMP pool can change the
    count torch sees, so it is put back afterwards."""
    threads = torch.get_num_threads()
    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _np(t: torch.Tensor, dtype=np.float32) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy().astype(dtype, copy=False))


class _Layer:
    """One layer's clean state: q [H, D], acc [N, T, H], spike masks bits [N, H], margins [N, H],
    filtered input maxima fmax_t [D, N], the float rounding allowance eps, and the buffers its
    spike changes are written to in a trial."""

    def __init__(self, fc: nn.Module, neuron: LIF, q: torch.Tensor, steps: int) -> None:
        p = neuron.parameters_now()
        h = q.shape[0]
        self.q = _np(q)
        self.s = _np(fc.scale.expand(h) if fc.scale.dim() == 0 else fc.scale)
        self.b = np.zeros(h, np.float32) if fc.bias is None else _np(fc.bias)  # + 0: same spikes
        self.beta = np.float32(float(p.beta))
        self.theta_tensor = p.threshold.detach().cpu()
        self.theta = np.full(h, self.theta_tensor.item(), np.float32)
        self.subtract = p.reset == "subtract"
        self.full = np.uint64((1 << steps) - 1)
        self.steps = steps

    def accumulate(self, bits: np.ndarray, q: np.ndarray, changes: tuple, start: int = 0,
                   stop: int | None = None) -> np.ndarray:
        """Exact accumulations [c, T, H] of samples start:stop of the trains `bits` [N, D]
        with `changes` applied, through q [H, D]."""
        stop = len(bits) if stop is None else stop
        d, steps = bits.shape[1], self.steps
        out = np.empty((stop - start, steps, q.shape[0]), np.float32)
        qt = torch.from_numpy(q).t()
        buf = np.empty((min(CHUNK, stop - start), steps, d), np.float32)
        for lo in range(start, stop, CHUNK):
            hi = min(lo + CHUNK, stop)
            _unpack(bits, *changes, lo, hi, steps, buf)
            torch.mm(torch.from_numpy(buf[: hi - lo]).view(-1, d), qt,
                     out=torch.from_numpy(out[lo - start:hi - start]).view(-1, q.shape[0]))
        return out

    def allocate(self, n: int) -> None:
        h = self.q.shape[0]
        # |acc| <= max row sum of |q| (at most one spike per input and step): int16 when that
        # fits (exact, and half the memory traffic of a trial's gathers)
        fits = float(np.abs(self.q).sum(1).max()) < 2 ** 15
        self.acc = np.empty((n, self.steps, h), np.int16 if fits else np.float32)
        self.bits = np.empty((n, h), np.uint64)
        self.margin = np.empty((n, h), np.float32)
        self.peaks = np.empty((n, 2), np.float32)
        self.changes = (np.zeros(n, np.int64), np.empty((n, h), np.int64),
                        np.empty((n, h), np.uint64))

    def clean(self, in_bits: np.ndarray) -> None:
        """Clean pass of every sample from its input trains `in_bits` [N, D]."""
        _clean_layer(in_bits, np.ascontiguousarray(self.q.T, self.acc.dtype), self.s, self.b,
                     self.beta, self.theta, self.subtract, self.acc, self.bits, self.margin,
                     self.peaks)

    def finish(self, in_bits: np.ndarray) -> None:
        """Rounding allowance and filtered input maxima, once every sample's clean pass ran."""
        self.in_bits = in_bits
        top = self.peaks.max(0)
        self.eps = ROUNDING_SLACK * self.steps * float(top.sum() + self.theta.max()) * 2.0 ** -24
        self.fmax_t = np.empty(in_bits.shape[::-1], np.float32)
        _filtered_max(in_bits, self.steps, self.beta, self.fmax_t)


def _no_changes(n: int) -> tuple:
    return np.zeros(n, np.int64), np.empty((n, 0), np.int64), np.empty((n, 0), np.uint64)


def _input_bits(cfg: ModelConfig, x: torch.Tensor, eval_seed: int) -> np.ndarray:
    """The evaluation's input spike trains as masks [N, D]: rate coding of float32 images
    straight from the generator's stream (as `eval_batches`, without the float trains)."""
    n, d = len(x), cfg.topology[0]
    bits = np.empty((n, d), np.uint64)
    if cfg.encoding == "rate" and x.dtype == torch.float32:
        seeds = np.array([chunk_seed(eval_seed, k) & 0xFFFFFFFF
                          for k in range(-(-n // EVAL_CHUNK))], np.uint64)
        rate_bits(_np(x.clamp(0, 1)), seeds, EVAL_CHUNK, cfg.timesteps, bits)
    else:
        for rows, xb in eval_batches(cfg, x, eval_seed, torch.device("cpu")):
            _pack(_np(xb), bits[rows])
    return bits


class CompiledEngine:
    """Per-trial accuracies identical to the reference engine, by compiled delta simulation."""

    name = "compiled"

    @torch.no_grad()
    def __init__(self, model: nn.Module, cfg: ModelConfig, qw: QuantizedWeights,
                 x: torch.Tensor, y: torch.Tensor, eval_seed: int = 0) -> None:
        with _torch_threads():
            self._prepare(model, cfg, qw, x, y, eval_seed)

    def _prepare(self, model: nn.Module, cfg: ModelConfig, qw: QuantizedWeights,
                 x: torch.Tensor, y: torch.Tensor, eval_seed: int) -> None:
        self.y = _np(y, np.int64)
        self.layers = [_Layer(fc, neuron, qw.q[i], cfg.timesteps)
                       for i, (fc, neuron) in enumerate(zip(model.fcs, model.lifs))]
        in_bits = _input_bits(cfg, x, eval_seed)
        for layer in self.layers:
            layer.allocate(len(x))
            layer.clean(in_bits)
            layer.finish(in_bits)
            in_bits = layer.bits
        self.clean_pred = _predict(self.layers[-1].bits)
        self.correct = int((self.clean_pred == self.y).sum())

    def _fraction(self, correct: int) -> float:
        """correct / N rounded as the reference's float32 mean of (pred == y)."""
        return float(np.float32(correct) / np.float32(len(self.y)))

    def clean_accuracy(self) -> float:
        return self._fraction(self.correct)

    @torch.no_grad()
    def accuracy(self, faults: list[LayerFaults]) -> float:
        if not faults:
            return self.clean_accuracy()
        with _torch_threads():
            return self._faulty_accuracy(faults)

    def _faulty_accuracy(self, faults: list[LayerFaults]) -> float:
        by_layer = {f.layer - 1: f for f in faults}
        deepest = max(by_layer)
        changes = _no_changes(len(self.y))
        for i in range(min(by_layer), len(self.layers)):
            changes = self._layer(self.layers[i], by_layer.get(i), changes)
            if i >= deepest and not changes[0].any():
                return self.clean_accuracy()
        last = self.layers[-1]
        return self._fraction(_correct_with(last.bits, *changes, self.clean_pred, self.y,
                                            self.correct))

    def _layer(self, layer: _Layer, lf: LayerFaults | None, upstream: tuple) -> tuple:
        """This layer's spike changes under its faults `lf`, given its input's `upstream`
        changes; written into (and returned as) `layer.changes`."""
        h, d = layer.q.shape
        qf, theta, forced = layer.q, layer.theta, np.full(h, -1, np.int8)
        if lf is not None:
            if lf.q is not None:
                qf = _np(lf.q)
            if lf.threshold_scale is not None:
                theta = _np((layer.theta_tensor * lf.threshold_scale.cpu()).clamp(min=1e-6))
            for mask, value in ((lf.dead, 0), (lf.saturated, 1)):
                if mask is not None:
                    forced[_np(mask, np.bool_)] = value
        rows, cols = np.nonzero(qf != layer.q)
        n, out = len(layer.acc), layer.changes
        if upstream[0].sum() > DENSE_FRACTION * n * d or len(rows) > DENSE_FRACTION * h * d:
            for start in range(0, n, CHUNK):
                acc = layer.accumulate(layer.in_bits, qf, upstream, start, min(start + CHUNK, n))
                _dense_layer(acc, start, layer.s, layer.b, layer.beta, theta, forced,
                             layer.subtract, layer.full, layer.bits, *out)
            return out
        w_ptr = np.zeros(h + 1, np.int64)
        np.cumsum(np.bincount(rows, minlength=h), out=w_ptr[1:])
        w_d = (qf[rows, cols] - layer.q[rows, cols]).astype(np.float32)
        _sparse_layer(layer.acc, layer.s, layer.b, layer.beta, theta, theta != layer.theta,
                      forced, layer.subtract, layer.full, layer.in_bits, *upstream,
                      np.ascontiguousarray(qf.T), w_ptr, cols.astype(np.int64), w_d, layer.fmax_t,
                      layer.margin, layer.eps, layer.bits, *out)
        return out
