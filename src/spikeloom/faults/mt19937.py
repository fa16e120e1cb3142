"""torch.rand's CPU stream without torch, compiled (numba): for the draws whose values are only
compared with a probability, where making the float tensor costs more than the comparison.

torch.rand(shape, generator=g) in float32 on the CPU is MT19937 seeded with the low 32 bits of
g's seed, each value (next 32-bit output & 0xFFFFFF) * 2^-24, drawn in row-major order of
`shape` (checked against torch in tests/test_faults_mt19937.py).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_MT_N, _MT_M = 624, 397


@njit(cache=True)
def _mt_seed(seed, mt):
    mt[0] = np.uint32(seed & 0xFFFFFFFF)
    for i in range(1, _MT_N):
        prev = np.uint64(mt[i - 1])
        mt[i] = np.uint32((np.uint64(1812433253) * (prev ^ (prev >> np.uint64(30))) + i)
                          & np.uint64(0xFFFFFFFF))


@njit(cache=True, inline="always")
def _twist(cur, nxt, far):
    y = (cur & np.uint32(0x80000000)) | (nxt & np.uint32(0x7FFFFFFF))
    return far ^ (y >> np.uint32(1)) ^ ((np.uint32(0) - (y & np.uint32(1))) & np.uint32(0x9908B0DF))


@njit(cache=True)
def _mt_block(mt, out):
    """Next 624 values of the generator `mt` (twisted in place) as torch's float32 uniforms."""
    for i in range(_MT_N - _MT_M):  # three loops without a modulo, so that they vectorize
        mt[i] = _twist(mt[i], mt[i + 1], mt[i + _MT_M])
    for i in range(_MT_N - _MT_M, _MT_N - 1):
        mt[i] = _twist(mt[i], mt[i + 1], mt[i + _MT_M - _MT_N])
    mt[_MT_N - 1] = _twist(mt[_MT_N - 1], mt[0], mt[_MT_M - 1])
    for i in range(_MT_N):
        y = mt[i]
        y ^= y >> np.uint32(11)
        y ^= (y << np.uint32(7)) & np.uint32(0x9D2C5680)
        y ^= (y << np.uint32(15)) & np.uint32(0xEFC60000)
        y ^= y >> np.uint32(18)
        out[i] = np.float32(y & np.uint32(0xFFFFFF)) * np.float32(2.0 ** -24)


@njit(cache=True)
def _rate_chunk(x, seed, steps, bits):
    """Masks bits [c, D] of (u < x) for u = torch.rand((T, c, D)) after manual_seed(seed)."""
    n_samples, d = x.shape
    mt, u = np.empty(_MT_N, np.uint32), np.empty(_MT_N, np.float32)
    _mt_seed(seed, mt)
    bits[:] = 0
    pos = _MT_N
    for t in range(steps):
        bit = np.uint64(1) << np.uint64(t)
        for n in range(n_samples):
            row, xrow = bits[n], x[n]
            j = 0
            while j < d:
                if pos == _MT_N:
                    _mt_block(mt, u)
                    pos = 0
                run = min(d - j, _MT_N - pos)
                uu, rr, xx = u[pos:pos + run], row[j:j + run], xrow[j:j + run]
                for r in range(run):
                    rr[r] |= np.uint64(uu[r] < xx[r]) * bit
                j += run
                pos += run


@njit(cache=True, parallel=True)
def rate_bits(x, seeds, chunk, steps, bits):
    """The rate encoder's spikes as masks bits [N, D]: chunk k of `chunk` samples drawn from a
    generator seeded seeds[k]. x [N, D] float32, already clamped to [0, 1]."""
    n_samples = x.shape[0]
    for k in prange(len(seeds)):
        lo, hi = k * chunk, min((k + 1) * chunk, n_samples)
        _rate_chunk(x[lo:hi], seeds[k], steps, bits[lo:hi])


@njit(cache=True)
def _below(seed, p, out):
    """out[i] = (u_i < p) for the first len(out) values of the generator seeded `seed`."""
    mt, u = np.empty(_MT_N, np.uint32), np.empty(_MT_N, np.float32)
    _mt_seed(seed, mt)
    n = len(out)
    for start in range(0, n, _MT_N):
        _mt_block(mt, u)
        part = out[start:start + _MT_N]
        for r in range(len(part)):
            part[r] = u[r] < p


def rand_below(seed: int, n: int, p: float) -> np.ndarray:
    """Flat indices i (int64, ascending) where torch.rand(n) < p for a CPU generator seeded
    with `seed` (p compared in float32, as torch does)."""
    hits = np.empty(int(n), np.bool_)
    _below(int(seed) & 0xFFFFFFFF, np.float32(p), hits)
    return np.flatnonzero(hits)
