"""The mapper's typed result."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class MappedCrossbar:
    id: int
    type: str
    inputs: int
    outputs: int
    cost: int
    neurons: tuple[str, ...]
    axons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "inputs": self.inputs, "outputs": self.outputs,
                "cost": self.cost, "neurons": list(self.neurons), "axons": list(self.axons)}


@dataclass(frozen=True)
class StageReport:
    """One lexicographic stage: its objective, value reached, proven bound, status, and
    where the bound comes from (counting, colgen, lagrangian, cp-sat)."""

    objective: str
    value: float
    lower_bound: float
    gap: float
    status: str
    bound_source: str = "counting"

    def to_dict(self) -> dict[str, Any]:
        return {"objective": self.objective, "value": self.value, "lower_bound": self.lower_bound,
                "lower_bound_source": self.bound_source, "gap": self.gap, "status": self.status}


@dataclass(frozen=True)
class MappingResult:
    network: str
    library: str
    method: str
    objective: str
    crossbars: tuple[MappedCrossbar, ...]
    area: int
    crossbars_used: int
    routes_total: int
    routes_global: int
    packets: float | None
    lower_bound: float
    gap: float
    status: str
    stages: tuple[StageReport, ...]
    lower_bounds: dict[str, float]
    solver_seconds: float
    deterministic_time: float
    valid: bool
    check_errors: tuple[str, ...]
    seed: int
    time_limit: float
    workers: int
    external_inputs: tuple[str, ...] = ()
    history: tuple[tuple[float, float], ...] = field(default=())
    notes: tuple[str, ...] = ()

    @property
    def lower_bound_source(self) -> str:
        """Where `lower_bound` (the first stage's) comes from: incumbent.BOUND_SOURCES."""
        return self.stages[0].bound_source if self.stages else "counting"

    def gap_meaning(self) -> str:
        """One sentence: what the area gap means and which side is likely loose."""
        src = self.lower_bound_source
        head = (f"The mapping's area is {self.area:g} and no mapping can have less than "
                f"{self.lower_bound:g} ({src} bound)")
        if self.gap <= 1e-12:
            return head + ", so it is proven optimal."
        head += f", so it is at most {self.gap:.1%} above the best possible"
        lp = self.lower_bounds.get("colgen_lp_value")
        if self.method != "axon-sharing":
            return head + f"; the {self.method} baseline does not search for less area, so the mapping is loose."
        if src in ("counting", "conflict"):
            return head + (f"; the {src} bound ignores how few neurons can share a crossbar's inputs, "
                           "so the bound is likely the loose side.")
        if src == "source-cover":
            return head + ("; the source-cover bound prices each source's crossbars on its own, not how "
                           "the crossbars' inputs are shared between sources, so the bound may be the loose side.")
        if src == "connected-cover":
            lp_area = self.lower_bounds.get("connected_lp", math.inf)
            k = self.lower_bounds.get("connected_min_fanin", 1)
            over = (f" over the neurons of fan-in >= {k:.0f} (the others' connected sets were too many to enumerate)"
                    if k > 1 else "")
            return head + (f"; the connected-cover bound is a certified point of an LP{over} whose value is at most "
                           f"{lp_area:.0f}, so the bound can rise at most that far and the rest of the gap is "
                           "the mapping's or the LP's.")
        if lp is not None and self.lower_bounds.get("colgen_lp_met"):
            return head + (f"; the bound has reached the LP relaxation (at most {lp:.1f}, rounded up), so no LP "
                           "bound can prove more: the mapping or the LP's integrality gap is the loose side.")
        return head + "; the bound's search stopped before it converged, so both sides may be loose."

    @property
    def assignment(self) -> dict[str, int]:
        return {n: xb.id for xb in self.crossbars for n in xb.neurons}

    def mapping_dict(self) -> dict[str, Any]:
        return {"network": self.network, "library": self.library,
                "crossbars": [xb.to_dict() for xb in self.crossbars],
                "assignment": self.assignment, "external_inputs": list(self.external_inputs)}

    def summary_dict(self) -> dict[str, Any]:
        per_type: dict[str, int] = {}
        for xb in self.crossbars:
            per_type[xb.type] = per_type.get(xb.type, 0) + 1
        out: dict[str, Any] = {
            "network": self.network, "library": self.library, "method": self.method,
            "objective": self.objective, "area": self.area, "crossbars_used": self.crossbars_used,
            "crossbars_by_size": per_type, "routes_total": self.routes_total,
            "routes_global": self.routes_global,
        }
        if self.packets is not None:
            out["packets"] = self.packets
        out.update({
            "lower_bound": self.lower_bound, "lower_bound_source": self.lower_bound_source, "gap": self.gap,
            "gap_meaning": self.gap_meaning(), "status": self.status,
            "stages": [s.to_dict() for s in self.stages], "lower_bounds": dict(self.lower_bounds),
            "solver_seconds": round(self.solver_seconds, 3),
            "deterministic_time": round(self.deterministic_time, 3), "valid": self.valid,
            "check_errors": list(self.check_errors), "seed": self.seed,
            "time_limit": self.time_limit, "workers": self.workers,
            "history": [list(h) for h in self.history], "notes": list(self.notes),
        })
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"summary": self.summary_dict(), "mapping": self.mapping_dict()}
