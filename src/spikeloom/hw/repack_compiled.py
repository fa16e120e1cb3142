"""The elimination's move scan compiled (numba, extra `fast`): the same best moves as
`repack.scan_moves`, from per-crossbar source counts instead of bitsets.

The reference (`repack.scan_moves`) ORs and popcounts a bitset for every (neuron, neuron)
pair it tries. Here each pair costs O(1): for p on an overflowing crossbar a and q on b,

    |a without p, with q| = |a| - own(p) + zero_a(q) + #{v in src p & src q: cnt_a[v] = 1}
    |b without q, with p| = |b| - own(q) + zero_b(p) + #{v in src p & src q: cnt_b[v] = 1}

where own(p) counts the sources only p brings to its crossbar and zero_j(q) the sources of
q that crossbar j lacks. The two shared-source terms are nonzero only for neurons that read
one of p's sources; they are summed once per p over those readers. DBSCAN systolic (4,498
neurons, 32x32, ~440 crossbars): 15 moves/s for the reference, see docs/mapping.md for the
compiled rate.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from spikeloom.hw.instance import Instance

NONE = np.int64(1) << 62  # "no move yet" for the best delta


@njit(cache=True)
def _rebuild(j, mem, msz, where, sp, sv, cnt, nax):
    """Crossbar j's source counts and axon count from its members (after a move)."""
    cnt[j, :] = 0
    n_ax = 0
    for i in range(msz[j]):
        p = mem[j, i]
        where[p] = j
        for e in range(sp[p], sp[p + 1]):
            v = sv[e]
            if cnt[j, v] == 0:
                n_ax += 1
            cnt[j, v] += 1
    nax[j] = n_ax


@njit(cache=True)
def _scan(bad, mem, msz, where, sp, sv, rp, rv, cnt, nax, w, tabu, it, cur, best_plain, cap, cap_out,
          own, zero_a, seen, c1, c2, out):
    """The best delta of weighted overflow over every relocation (p, b, -1) and swap (p, b, q)
    of a neuron p on an overflowing crossbar (`bad`), with `repack.scan_moves`'s tabu and
    aspiration rules; the tied best moves go to `out` rows while they fit. Returns (best
    delta or NONE, number of tied moves)."""
    k = nax.shape[0]
    n = where.shape[0]
    for q in range(n):
        j = where[q]
        c = 0
        for e in range(sp[q], sp[q + 1]):
            if cnt[j, sv[e]] == 1:
                c += 1
        own[q] = c
    best_d = NONE
    nm = 0
    seen[:] = 0
    stamp = 0
    for ia in range(bad.shape[0]):
        a = bad[ia]
        wa = w[a]
        ova = max(0, nax[a] - cap)
        for q in range(n):
            c = 0
            for e in range(sp[q], sp[q + 1]):
                if cnt[a, sv[e]] == 0:
                    c += 1
            zero_a[q] = c
        for ip in range(msz[a]):
            p = mem[a, ip]
            if sp[p + 1] == sp[p]:
                continue
            na = nax[a] - own[p]
            da = wa * (max(0, na - cap) - ova)
            stamp += 1
            for e in range(sp[p], sp[p + 1]):  # the shared-source terms of p's readers' readers
                v = sv[e]
                for f in range(rp[v], rp[v + 1]):
                    q = rv[f]
                    if seen[q] != stamp:
                        seen[q] = stamp
                        c1[q] = 0
                        c2[q] = 0
                    if cnt[a, v] == 1:
                        c1[q] += 1
                    if cnt[where[q], v] == 1:
                        c2[q] += 1
            for b in range(k):
                if b == a:
                    continue
                wb = w[b]
                ovb = max(0, nax[b] - cap)
                zb = 0
                for e in range(sp[p], sp[p + 1]):
                    if cnt[b, sv[e]] == 0:
                        zb += 1
                free_pb = tabu[p, b] < it
                if msz[b] < cap_out:  # relocate p: a -> b
                    d = da + wb * (max(0, nax[b] + zb - cap) - ovb)
                    if free_pb or d + cur < best_plain:
                        if d < best_d:
                            best_d, nm = d, 0
                        if d == best_d:
                            if nm < out.shape[0]:
                                out[nm, 0], out[nm, 1], out[nm, 2] = p, b, -1
                            nm += 1
                for iq in range(msz[b]):  # swap p (a) <-> q (b)
                    q = mem[b, iq]
                    na2 = na + zero_a[q]
                    nb2 = nax[b] - own[q] + zb
                    if seen[q] == stamp:
                        na2 += c1[q]
                        nb2 += c2[q]
                    d = wa * (max(0, na2 - cap) - ova) + wb * (max(0, nb2 - cap) - ovb)
                    if d > best_d:
                        continue
                    if (free_pb and tabu[q, a] < it) or d + cur < best_plain:
                        if d < best_d:
                            best_d, nm = d, 0
                        if nm < out.shape[0]:
                            out[nm, 0], out[nm, 1], out[nm, 2] = p, b, q
                        nm += 1
    return best_d, nm


class CompiledScan:
    """`repack.scan_moves` on arrays that follow a `repack._State` (`sync` after moves, from
    its `dirty` crossbars). Its tabu is an int array [neuron, crossbar] (move allowed when
    below the iteration), which `repack.apply_move` writes like the reference's dict."""

    def __init__(self, inst: Instance, members: list[set[int]], cap_out: int, cap_in: int) -> None:
        n, k, nodes = inst.n, len(members), len(inst.tgt)
        self.cap_out, self.cap_in = cap_out, cap_in
        self.sp = np.zeros(n + 1, np.int64)
        self.sp[1:] = np.cumsum([len(s) for s in inst.src])
        self.sv = np.array([v for s in inst.src for v in s], np.int64)
        self.rp = np.zeros(nodes + 1, np.int64)
        self.rp[1:] = np.cumsum([len(t) for t in inst.tgt])
        self.rv = np.array([q for t in inst.tgt for q in t], np.int64)
        self.mem = np.zeros((k, max(cap_out, max(map(len, members), default=0)) + 1), np.int64)
        self.msz = np.zeros(k, np.int64)
        self.where = np.zeros(n, np.int64)
        self.cnt = np.zeros((k, nodes), np.int32)
        self.nax = np.zeros(k, np.int64)
        self.own, self.zero_a, self.seen, self.c1, self.c2 = (np.zeros(n, np.int64) for _ in range(5))
        self.out = np.zeros((1024, 3), np.int64)
        self.tabu = np.zeros((n, k), np.int32)  # 4 bytes: 20,000 neurons x 1,700 crossbars = 136 MB
        self.sync(members, range(k))

    def sync(self, members: list[set[int]], changed) -> None:
        """Take over the members of the crossbars `changed`."""
        for j in changed:
            ms = sorted(members[j])
            self.msz[j] = len(ms)
            self.mem[j, :len(ms)] = ms
            _rebuild(j, self.mem, self.msz, self.where, self.sp, self.sv, self.cnt, self.nax)

    def __call__(self, w: list[int], it: int, cur: int, best_plain: int) -> tuple[int | None, np.ndarray]:
        """(best delta or None, the tied best moves as rows (p, b, q) of an int array valid
        until the next call), as `repack.scan_moves`; the caller converts only the move it
        picks (a scan ties ~175 moves on DBSCAN flat 20 x 20)."""
        bad = np.flatnonzero(self.nax > self.cap_in)
        args = (bad, self.mem, self.msz, self.where, self.sp, self.sv, self.rp, self.rv, self.cnt, self.nax,
                np.asarray(w, np.int64), self.tabu, it, cur, best_plain, self.cap_in, self.cap_out,
                self.own, self.zero_a, self.seen, self.c1, self.c2)
        best_d, nm = _scan(*args, self.out)
        if nm > self.out.shape[0]:  # more ties than rows: again with room for all
            self.out = np.zeros((2 * nm, 3), np.int64)
            best_d, nm = _scan(*args, self.out)
        if best_d == NONE:
            return None, self.out[:0]
        return int(best_d), self.out[:nm]
