"""Hardware figures of a compressed network: crossbar area and global routes of its mapping
(the `spikeloom.hw` mapper: constructive heuristic + LNS, CP-SAT only when asked), weight
memory, and the latency proxy. Torch-free: the graph arrives from `spikeloom.measure.graph`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spikeloom.spec import Spec


@dataclass(frozen=True)
class HardwareCost(Spec):
    """area: memristor cells of the used crossbars (sum of C_j); global_routes: axons that
    come from another crossbar; crossbars: crossbars used; status: mapper status."""

    library: str
    area: float
    global_routes: float
    crossbars: int
    status: str
    map_seconds: float
    mapping: dict[str, Any] | None = None


def max_inputs(library: str) -> int:
    """The largest crossbar input count of `library` (a neuron's fan-in must fit it)."""
    from spikeloom.hw import parse_library  # noqa: PLC0415

    return parse_library(library).max_inputs


def map_graph(graph: Any, library: str, time_limit: float = 1.0, seed: int = 0,
              exact: bool = False, keep_mapping: bool = False) -> HardwareCost:
    """Map `graph` (from `spikeloom.measure.graph`) onto `library`, minimising area then global
    routes. Input pixels arrive from outside (external inputs). `exact` lets CP-SAT run when
    the model is small enough."""
    from spikeloom.hw import map_network, parse_library  # noqa: PLC0415

    result = map_network(graph, parse_library(library), objective="area-then-global-routes",
                         time_limit=time_limit, workers=1, seed=seed, external_inputs=True,
                         full_model=None if exact else False)
    return HardwareCost(library=library, area=float(result.area), global_routes=float(result.routes_global),
                        crossbars=int(result.crossbars_used), status=result.status,
                        map_seconds=float(result.solver_seconds),
                        mapping=result.to_dict() if keep_mapping and hasattr(result, "to_dict") else None)


def latency_proxy(timesteps: int, depth: int) -> int:
    """Timesteps x weight layers: the sequential steps of one inference."""
    return int(timesteps) * int(depth)
