"""`Budget`: the one owner of a mapping run's time. It holds the wall-clock limit, the
optional CP-SAT deterministic limit and every share a stage or step of `map_network` gets
(`Shares`); stages ask it for seconds and deadlines instead of carrying their own
fractions."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from spikeloom.spec import Spec


@dataclass(frozen=True)
class Shares(Spec):
    """Time shares of `map_network`. Unless said otherwise, a share is a fraction of the time
    left in the current lexicographic stage when the step starts.

    The values were set on presets A-E (16x16, 60 s, 2 workers); the reasons are in
    docs/mapping.md."""

    stage: float = 0.6  # a stage followed by another: of the run's time left (the last stage gets all of it)
    elimination: float = 0.35  # homogeneous library, 1 process: crossbar elimination before column generation
    elimination_only: float = 0.8  # homogeneous, no column generation (large networks): elimination, LNS the rest
    parallel: float = 0.95  # 2+ workers: elimination child beside column generation and the dive
    colgen: float = 0.7  # column-generation bound, 1 process (C: bound 13 -> 20 at 0.45 -> 0.7)
    cover: float = 0.33  # price-and-branch over the generated columns (at most cover_max_s)
    cover_max_s: float = 5.0
    dive: float = 0.5  # price-and-dive, 1 process, homogeneous library
    lns: float = 0.3  # LNS when the full CP-SAT model follows (without it the LNS gets the whole stage)
    packets_warm: float = 1 / 3  # packets stage: of the LNS time, spent on global routes first
    source: float = 0.05  # of the run's time: the source-cover bound (at most source_max_s; 3-5 s on 2,420-4,498 neurons)
    source_max_s: float = 15.0
    construct: float = 0.15  # of the run's time: constructive tries after the first (presets: all 8 in < 1 s)
    hypergraph: float = 0.06  # of the run's time: hypergraph partitioner start (at most hypergraph_max_s)
    hypergraph_max_s: float = 20.0
    layers: float = 0.25  # of the run's time: the layer-by-layer start (large networks; set on dev DBSCAN flat 20x20)
    restart_s: float = 10.0  # s without improvement after which eliminate_stage's descent starts again (at least its climb)
    stall_s: float = 8.0  # s without improvement after which the elimination child dives instead (D)
    min_step_s: float = 0.2  # no step gets less than this


SHARES = Shares()


class Budget:
    """Wall-clock (`time_limit`, s) and deterministic (`deterministic`, CP-SAT's units) budget
    of one run, split into lexicographic stages (`open_stage`) and steps (`seconds`,
    `until`, `det`). `clock` is injectable for tests."""

    def __init__(self, time_limit: float, deterministic: float | None = None, shares: Shares = SHARES,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.shares = shares
        self.clock = clock
        self.t0 = clock()
        self.end = self.t0 + time_limit
        self.det_limit = deterministic
        self.det_used = 0.0
        self.stage_end = self.end
        self.stage_det: float | None = deterministic

    def elapsed(self) -> float:
        return self.clock() - self.t0

    def left(self) -> float:
        """Seconds left in the run (may be negative once overrun)."""
        return self.end - self.clock()

    def open_stage(self, last: bool) -> None:
        """Start a lexicographic stage: the last one gets all the time left, an earlier one
        `shares.stage` of it (and of the deterministic time left)."""
        share = 1.0 if last else self.shares.stage
        self.stage_end = self.clock() + max(self.shares.min_step_s, self.left() * share)
        if self.det_limit is not None:
            self.stage_det = max(0.05, (self.det_limit - self.det_used) * share)

    def stage_left(self) -> float:
        """Seconds left in the current stage, at least `min_step_s`."""
        return max(self.shares.min_step_s, self.stage_end - self.clock())

    def seconds(self, share: str, cap: float | None = None) -> float:
        """The step's seconds: `shares.<share>` of the stage's time left, at most `cap`."""
        s = max(self.shares.min_step_s, getattr(self.shares, share) * (self.stage_end - self.clock()))
        return s if cap is None else min(cap, s)

    def run_seconds(self, share: str, cap: float | None = None) -> float:
        """Seconds for a step before the stages (a start): `shares.<share>` of the run's time
        left, at most `cap`."""
        s = max(self.shares.min_step_s, getattr(self.shares, share) * self.left())
        return s if cap is None else min(cap, s)

    def until(self, share: str) -> float:
        """The step's deadline (on `clock`)."""
        return self.clock() + self.seconds(share)

    def det(self, fraction: float) -> float | None:
        """Deterministic time for a CP-SAT call: `fraction` of the stage's, or None (no cap)."""
        return None if self.stage_det is None else self.stage_det * fraction

    def spend(self, det: float) -> None:
        """Record deterministic time used."""
        self.det_used += det
