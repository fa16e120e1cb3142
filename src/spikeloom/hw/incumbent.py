"""What the stages of `map_network` share: the incumbent mapping and the proven bound of
the stage's objective, with the name of where that bound came from."""

from __future__ import annotations

import math
from dataclasses import dataclass

from spikeloom.hw.instance import Bin, Instance

# where a lower bound comes from (summary.json `lower_bound_source`)
BOUND_SOURCES = ("counting", "conflict", "source-cover", "connected-cover", "colgen", "lagrangian", "cp-sat")


@dataclass
class Bound:
    """The best proven lower bound of one objective and its source (BOUND_SOURCES)."""

    value: float
    source: str = "counting"

    def raise_to(self, value: float, source: str) -> bool:
        """Keep `value` if it is higher (ties keep the earlier source); True if raised."""
        if value > self.value + 1e-9:
            self.value, self.source = value, source
            return True
        return False


class Incumbent:
    """The best mapping so far, shared by every stage. `history` records (seconds since
    `t0`, value) of the `primary` objective whenever it improves."""

    def __init__(self, inst: Instance, bins: list[Bin], primary: str, t0: float) -> None:
        self.inst, self.bins, self.primary, self.t0 = inst, bins, primary, t0
        self.history: list[tuple[float, float]] = []

    def value(self, objective: str) -> float:
        return self.inst.metrics(self.bins)[objective]

    def offer(self, bins: list[Bin] | None, objective: str, caps: dict[str, float] | None = None,
              now: float | None = None, ties: bool = False) -> bool:
        """Take `bins` if valid, within `caps` (objective -> max value of earlier stages) and
        better in `objective` (or as good, with `ties`). True if taken."""
        if bins is None or not self.inst.is_valid(bins):
            return False
        new = self.inst.metrics(bins)
        if any(new[s] > c + 1e-9 for s, c in (caps or {}).items()):
            return False
        old = self.value(objective)
        if new[objective] > old or (new[objective] == old and not ties):
            return False
        self.bins = bins
        if objective == self.primary and new[objective] < old and now is not None:
            self.note(now, new[objective])
        return True

    def note(self, now: float, value: float) -> None:
        """Record an improvement of the primary objective found at `now` (clock time)."""
        self.history.append((round(now - self.t0, 2), value))


def gap(value: float, bound: float) -> float:
    """(value - bound) / bound; 0 at or below the bound, inf for a zero bound."""
    if value <= bound + 1e-9:
        return 0.0
    return (value - bound) / bound if bound > 0 else math.inf
