"""Crossbar elimination by local search (homogeneous libraries).

From a feasible mapping with k crossbars, empty one crossbar into the others and search
for a mapping on k - 1 crossbars: every neuron stays on a crossbar with a free output
(outputs are kept within capacity at all times), and the search minimises the total axon
overflow sum_j max(0, axons_j - A). Moves: relocate one neuron of an overflowing crossbar
to a crossbar with a free output, or swap it with a neuron of another crossbar; tabu on
(neuron, crossbar it left) with aspiration, crossbar weights raised on overflow when the
search stalls (breakout). Overflow 0 is a valid mapping on k - 1 crossbars; then it tries
k - 2, and so on. Complements the LNS, whose exact sub-problems only see a few crossbars.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence

from spikeloom.hw.instance import Bin, Instance


class _State:
    def __init__(self, inst: Instance, groups: list[list[int]], cap_out: int, cap_in: int) -> None:
        self.inst = inst
        self.src = inst.src
        self.cap_out = cap_out
        self.cap_in = cap_in
        self.k = len(groups)
        self.members: list[set[int]] = [set(g) for g in groups]
        self.where = [0] * inst.n
        self.cnt: list[dict[int, int]] = [{} for _ in groups]
        # bitsets over source nodes: each neuron's sources, each crossbar's axons, and each
        # neuron's crossbar axons without the sources only it brings (`rest`, kept for the
        # crossbars not in `dirty`): an axon count after a move is one OR and a popcount
        self.smask = inst.src_masks
        self.mask = [0] * self.k
        self.rest = [0] * inst.n
        self.dirty: set[int] = set(range(self.k))
        for j, g in enumerate(groups):
            for p in g:
                self.where[p] = j
                c = self.cnt[j]
                for v in self.src[p]:
                    c[v] = c.get(v, 0) + 1
                self.mask[j] |= self.smask[p]
        self.w = [1] * self.k
        self.overflow = sum(self.over(j) for j in range(self.k))  # kept by remove/add

    def over(self, j: int) -> int:
        return max(0, len(self.cnt[j]) - self.cap_in)

    def total(self) -> int:
        return self.overflow

    def remove(self, p: int) -> None:
        j = self.where[p]
        self.overflow -= self.over(j)
        self.members[j].discard(p)
        c = self.cnt[j]
        for v in self.src[p]:
            if c[v] == 1:
                del c[v]
                self.mask[j] &= ~(1 << v)
            else:
                c[v] -= 1
        self.overflow += self.over(j)
        self.dirty.add(j)

    def add(self, p: int, j: int) -> None:
        self.where[p] = j
        self.overflow -= self.over(j)
        self.members[j].add(p)
        c = self.cnt[j]
        for v in self.src[p]:
            c[v] = c.get(v, 0) + 1
        self.overflow += self.over(j)
        self.mask[j] |= self.smask[p]
        self.dirty.add(j)

    def refresh(self) -> None:
        """`rest` of the neurons on crossbars changed since the last call."""
        for j in self.dirty:
            c, m = self.cnt[j], self.mask[j]
            for p in self.members[j]:
                self.rest[p] = m & ~sum(1 << v for v in self.src[p] if c[v] == 1)
        self.dirty.clear()

    def axons_after(self, j: int, out: tuple[int, ...], into: tuple[int, ...]) -> int:
        """Axon count of crossbar j after removing neuron sources `out` and adding `into`."""
        return axons_after(self.cnt[j], out, into)


def axons_after(cnt: dict[int, int], out: tuple[int, ...], into: tuple[int, ...]) -> int:
    """Axon count of a crossbar whose sources are read by `cnt[v]` of its neurons, after
    removing one neuron's sources `out` and adding another's `into`."""
    n = len(cnt)
    for v in out:
        if cnt.get(v, 0) == 1 and v not in into:
            n -= 1
    for v in into:
        if v not in cnt:
            n += 1
    return n


def _ov(n: int, cap: int) -> int:
    return n - cap if n > cap else 0


def apply_move(st: _State, move: tuple[int, int, int], tabu: dict[tuple[int, int], int], it: int,
               rng: random.Random) -> None:
    """Carry out move (p, b, q): p to crossbar b, and q (>= 0: a swap) to p's crossbar; the
    reverse moves are tabu for 7-16 moves."""
    p, b, q = move
    a = st.where[p]
    st.remove(p)
    st.add(p, b)
    tabu[(p, a)] = it + 7 + rng.randrange(10)
    if q >= 0:
        st.remove(q)
        st.add(q, a)
        tabu[(q, b)] = it + 7 + rng.randrange(10)


def weighted_overflow(st: _State) -> int:
    """The tabu search's objective: each crossbar's overflow times its breakout weight."""
    return sum(st.w[j] * st.over(j) for j in range(st.k))


def record_progress(st: _State, best_plain: int, stall: int, best_d: int) -> tuple[int, int, bool]:
    """After a move: (best plain overflow so far, moves since it last fell, breakout). Breakout:
    20 moves without progress while no move lowers the weighted overflow (best_d >= 0) weigh
    every overflowing crossbar up by one; the caller then recomputes `weighted_overflow`."""
    plain = st.total()
    if plain < best_plain:
        return plain, 0, False
    stall += 1
    if best_d >= 0 and stall > 20:
        for j in range(st.k):
            if st.over(j) > 0:
                st.w[j] += 1
        return best_plain, 0, True
    return best_plain, stall, False


def scan_moves(st: _State, tabu: dict[tuple[int, int], int], it: int, cur: int,
               best_plain: int) -> tuple[int | None, list[tuple[int, int, int]]]:
    """The reference move scan: over every relocation (p, b, -1) and swap (p, b, q) of a
    neuron p on an overflowing crossbar, the best change of weighted overflow and the moves
    tied at it. A tabu move counts only when it would beat the best plain overflow so far
    (aspiration). Bitsets: one OR and a popcount per pair."""
    src, cap = st.src, st.cap_in
    bad = [j for j in range(st.k) if len(st.cnt[j]) > cap]
    best_d, moves = None, []
    st.refresh()
    rest, smask, mask, members, w = st.rest, st.smask, st.mask, st.members, st.w
    ov = [_ov(len(c), cap) for c in st.cnt]  # overflow of each crossbar now
    room = [len(m) < st.cap_out for m in members]
    for a in bad:
        wa, ova = w[a], ov[a]
        for p in members[a]:
            if not src[p]:
                continue
            rest_p, sm_p = rest[p], smask[p]
            na = rest_p.bit_count()  # a's axons without p
            da = wa * ((na - cap if na > cap else 0) - ova)
            for b in range(st.k):
                if b == a:
                    continue
                wb, ovb = w[b], ov[b]
                free_pb = tabu.get((p, b), 0) < it
                if room[b]:  # relocate p: a -> b
                    nb = (mask[b] | sm_p).bit_count()
                    d = da + wb * ((nb - cap if nb > cap else 0) - ovb)
                    if free_pb or d + cur < best_plain:
                        if best_d is None or d < best_d:
                            best_d, moves = d, [(p, b, -1)]
                        elif d == best_d:
                            moves.append((p, b, -1))
                for q in members[b]:  # swap p (a) <-> q (b)
                    na2 = (rest_p | smask[q]).bit_count()
                    nb2 = (rest[q] | sm_p).bit_count()
                    d = wa * ((na2 - cap if na2 > cap else 0) - ova) + wb * ((nb2 - cap if nb2 > cap else 0) - ovb)
                    if best_d is not None and d > best_d:
                        continue
                    if (free_pb and tabu.get((q, a), 0) < it) or d + cur < best_plain:
                        if best_d is None or d < best_d:
                            best_d, moves = d, [(p, b, q)]
                        elif d == best_d:
                            moves.append((p, b, q))
    return best_d, moves


def _scanner(st: _State) -> tuple[Callable[[int, int, int], tuple[int | None, Sequence]], object]:
    """(scan(it, cur, best_plain), tabu): the compiled scan (repack_compiled.py, extra
    `fast`) with its tabu array, else `scan_moves` with a dict; the same moves either way
    (as rows of an array from the compiled scan)."""
    try:
        from spikeloom.hw.repack_compiled import CompiledScan
    except ImportError:
        tabu: dict[tuple[int, int], int] = {}
        return (lambda it, cur, best: scan_moves(st, tabu, it, cur, best)), tabu
    cs = CompiledScan(st.inst, st.members, st.cap_out, st.cap_in)
    st.dirty.clear()

    def scan(it: int, cur: int, best: int) -> tuple[int | None, Sequence]:
        cs.sync(st.members, st.dirty)
        st.dirty.clear()
        return cs(st.w, it, cur, best)

    return scan, cs.tabu


def _search(st: _State, t_end: float, rng: random.Random, max_iters: int,
            stop: Callable[[], bool] | None = None) -> bool:
    """Tabu search to overflow 0; True when reached."""
    scan, tabu = _scanner(st)
    cur = weighted_overflow(st)
    best_plain = st.total()
    stall = 0
    it = 0
    while it < max_iters:
        it += 1
        if best_plain == 0:
            return True
        # the clock every move: on 64x64 crossbars with 125 of them one move scans ~10^6 swaps,
        # and checking every 32 moves overran a 300 s limit by 80 s (DBSCAN flat_full_18)
        if time.perf_counter() > t_end or (it % 32 == 0 and stop is not None and stop()):
            return False
        best_d, moves = scan(it, cur, best_plain)
        if not len(moves):
            return False
        apply_move(st, tuple(map(int, moves[rng.randrange(len(moves))])), tabu, it, rng)
        cur += best_d
        best_plain, stall, reweighted = record_progress(st, best_plain, stall, best_d)
        if reweighted:
            cur = weighted_overflow(st)
    return best_plain == 0


def eliminate(inst: Instance, bins: list[Bin], time_limit: float, seed: int = 0,
              max_iters: int = 5000, target: int | Callable[[], int] = 0,
              log: Callable[[list[Bin]], None] | None = None, restart_s: float | None = None) -> list[Bin]:
    """Fewer crossbars than `bins` where the local search finds them (homogeneous libraries
    only; otherwise `bins` unchanged). Stops at `target` crossbars or after `time_limit` s;
    `log` sees every improved mapping. `target` may be a callable (a bound that another
    process is still raising). `restart_s`: once a descent has not improved for that many
    seconds (and for as long as it took to get there) while another descent of that length
    still fits in the time, the search starts again from `bins` with the random choices
    going on (another local optimum); the best mapping of all descents is returned."""
    if len(inst.types) != 1 or not bins:
        return bins
    ct = inst.types[0]
    t_end = time.perf_counter() + time_limit
    rng = random.Random(seed)
    start = [list(b.neurons) for b in bins]
    best = overall = start
    goal = target if callable(target) else (lambda: target)

    def stop() -> bool:
        return len(overall) <= goal()

    t_descent = t_improved = time.perf_counter()
    while time.perf_counter() < t_end and not stop() and len(best) > 1:
        now = time.perf_counter()
        climb = t_improved - t_descent
        if restart_s is not None and now - t_improved >= max(restart_s, climb) and t_end - now > 2 * climb:
            best, t_descent, t_improved = start, now, now
        k = len(best) - 1
        if inst.n > k * ct.outputs or (ct.count is not None and k > ct.count):
            break
        # drop the crossbar whose neurons are easiest to place elsewhere (fewest neurons,
        # ties at random), re-insert its neurons greedily where they add the fewest axons
        order = sorted(range(len(best)), key=lambda j: (len(best[j]), rng.random()))
        drop = order[0] if rng.random() < 0.7 else order[rng.randrange(min(3, len(order)))]
        groups = [list(g) for j, g in enumerate(best) if j != drop]
        cand = pack(inst, groups, best[drop], t_end, rng, max_iters, stop)
        if cand is not None:
            best, t_improved = [list(b.neurons) for b in cand], time.perf_counter()
            if len(best) < len(overall):
                overall = best
                if log is not None:
                    log(cand)
    return [Bin(0, tuple(g)) for g in overall]


def insert_loose(inst: Instance, groups: list[list[int]], loose: list[int], rng: random.Random) -> _State | None:
    """The tabu state of `groups` (homogeneous library) with the `loose` neurons added,
    hardest first, each where it adds the least overflow; None when outputs run out."""
    ct = inst.types[0]
    st = _State(inst, groups, ct.outputs, ct.inputs)
    for p in sorted(loose, key=lambda p: -inst.fanin[p]):
        room = [j for j in range(len(groups)) if len(st.members[j]) < ct.outputs]
        if not room:
            return None
        j = min(room, key=lambda j: (_ov(st.axons_after(j, (), inst.src[p]), ct.inputs)
                                     - st.over(j), st.axons_after(j, (), inst.src[p]), rng.random()))
        st.add(p, j)
    return st


def pack(inst: Instance, groups: list[list[int]], loose: list[int], t_end: float, rng: random.Random,
         max_iters: int, stop: Callable[[], bool] | None = None) -> list[Bin] | None:
    """`loose` neurons added to the crossbars `groups` (homogeneous library; hardest first,
    each where it adds the least overflow), then the tabu search to zero overflow. The
    mapping on at most len(groups) crossbars, or None."""
    st = insert_loose(inst, groups, loose, rng)
    if st is None or not _search(st, t_end, rng, max_iters, stop):
        return None
    bins = [Bin(0, tuple(sorted(m))) for m in st.members if m]
    return bins if inst.is_valid(bins) else None


class BackgroundSearch:
    """A mapping search in a forked child process (a second core), next to the parent's
    work. `search(log, goal)` must call `log` with every improved mapping and stop once its
    crossbar count is at most `goal()`. Shared values: the child's best crossbar count (the
    parent's column generation and dive stop once their bound reaches it), the time of its
    last improvement, and the bound in crossbars that the parent raises (the child stops
    once its count reaches it). The child sends its best mapping when it ends. Without fork,
    the search runs in the foreground."""

    def __init__(self, inst: Instance, bins: list[Bin], time_limit: float, bound: int,
                 search: Callable[[Callable[[list[Bin]], None], Callable[[], int]], object],
                 measure: Callable[[list[Bin]], int] = len) -> None:
        import multiprocessing as mp

        self.inst = inst
        self.bins = bins
        self.measure = measure  # the value shared with the parent: crossbars (len) or area
        self.t_end = time.perf_counter() + time_limit
        try:
            ctx = mp.get_context("fork")
        except ValueError:
            ctx = None
        if ctx is None:
            self.proc = None

            def keep(b: list[Bin]) -> None:
                self.bins = b

            search(keep, lambda: bound)
            self.count = None
            return
        self.count = ctx.Value("i", measure(bins))
        self.since = ctx.Value("d", time.perf_counter())
        self.bound = ctx.Value("i", bound)
        self.recv, send = ctx.Pipe(duplex=False)

        def child() -> None:
            best: list[Bin] = []

            def log(b: list[Bin]) -> None:
                best[:] = b
                self.count.value = measure(b)
                self.since.value = time.perf_counter()

            search(log, lambda: self.bound.value)
            if best:  # once, at the end: the parent reads the pipe only in result(), and a
                # search that improves often (annealing) blocked on its ~64 KiB buffer
                send.send([(x.type, x.neurons) for x in best])
            send.send(None)
            send.close()

        self.proc = ctx.Process(target=child, daemon=True)
        self.proc.start()
        send.close()

    def crossbars(self) -> int:
        """The child's best value so far (`measure`: crossbar count by default)."""
        return self.measure(self.bins) if self.count is None else self.count.value

    def stalled(self) -> float:
        """Seconds since the child last improved (0 without a child)."""
        return 0.0 if self.proc is None else time.perf_counter() - self.since.value

    def raise_bound(self, crossbars: int) -> None:
        if self.proc is not None and crossbars > self.bound.value:
            self.bound.value = crossbars

    def cancel(self) -> None:
        """Stop the child at its next check (a better mapping was found elsewhere)."""
        if self.proc is not None:
            self.bound.value = 1 << 30  # "stop at this many crossbars or fewer": at once

    def result(self) -> list[Bin]:
        """Waits for the child (its own time limit) and returns its best mapping."""
        if self.proc is None:
            return self.bins
        best = self.bins
        while True:
            wait = max(0.0, self.t_end - time.perf_counter()) + 5.0
            if not self.recv.poll(wait):
                break
            try:
                msg = self.recv.recv()
            except EOFError:
                break
            if msg is None:
                break
            cand = [Bin(t, tuple(ns)) for t, ns in msg]
            if self.inst.is_valid(cand):
                best = cand
        self.proc.join(timeout=5.0)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join()
        return best


def background_elimination(inst: Instance, bins: list[Bin], time_limit: float, seed: int,
                           bound: int) -> BackgroundSearch:
    """`eliminate` in a forked child (BackgroundSearch), next to the column generation."""
    return BackgroundSearch(inst, bins, time_limit, bound, lambda log, goal: eliminate(
        inst, bins, time_limit, seed=seed, target=goal, log=log))
