"""Independent checker: re-validates a written mapping from the network graph and the
crossbar library alone, and recomputes every objective from scratch.

It deliberately shares no code with the model builder, the heuristic or the LNS (it works
on node ids and the `mapping.json` layout, not on their index form).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from spikeloom.hw.crossbars import CrossbarLibrary
from spikeloom.hw.graph import Graph


@dataclass(frozen=True)
class CheckReport:
    valid: bool
    errors: tuple[str, ...]
    area: int
    crossbars_used: int
    routes_total: int
    routes_global: int
    packets: float | None
    stats: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"valid": self.valid, "errors": list(self.errors), "area": self.area,
                "crossbars_used": self.crossbars_used, "routes_total": self.routes_total,
                "routes_global": self.routes_global, "packets": self.packets}


def check_mapping(graph: Graph, library: CrossbarLibrary, mapping: Mapping[str, Any],
                  external: tuple[str, ...] = (), max_errors: int = 20) -> CheckReport:
    """Validate `mapping` (the `mapping.json` dict). Neurons in `external` are inputs
    delivered from outside and must not be placed; every other node must be placed once."""
    errors: list[str] = []

    def err(msg: str) -> None:
        if len(errors) < max_errors:
            errors.append(msg)

    sizes = {t.name: t for t in library.types}
    xbars = list(mapping.get("crossbars", []))
    where: dict[str, str] = {}
    per_type: dict[str, int] = {}
    area = 0
    ids: set[str] = set()
    for xb in xbars:
        cid = str(xb.get("id"))
        if cid in ids:
            err(f"crossbar id {cid} used twice")
        ids.add(cid)
        t = sizes.get(str(xb.get("type")))
        if t is None:
            err(f"crossbar {cid} has type {xb.get('type')!r}, not in the library")
            continue
        if int(xb.get("inputs", -1)) != t.inputs or int(xb.get("outputs", -1)) != t.outputs:
            err(f"crossbar {cid}: inputs/outputs do not match size {t.name}")
        per_type[t.name] = per_type.get(t.name, 0) + 1
        area += t.cost
        neurons = [str(n) for n in xb.get("neurons", [])]
        if not neurons:
            err(f"crossbar {cid} is listed but holds no neuron")
        if len(neurons) > t.outputs:
            err(f"crossbar {cid} holds {len(neurons)} neurons but has {t.outputs} outputs")
        for nid in neurons:
            if nid in where:
                err(f"neuron {nid} is on crossbars {where[nid]} and {cid}")
            where[nid] = cid
    for name, used in per_type.items():
        avail = sizes[name].count
        if avail is not None and used > avail:
            err(f"{used} crossbars of size {name} used but only {avail} available")
    known = set(graph.nodes)
    ext = set(external)
    for nid in where:
        if nid not in known:
            err(f"mapped neuron {nid} is not in the network")
        elif nid in ext:
            err(f"external input {nid} is placed on a crossbar")
    for nid in graph.nodes:
        if nid not in ext and nid not in where:
            err(f"neuron {nid} is not placed on any crossbar")
    assignment = mapping.get("assignment")
    if assignment is not None:
        for nid, cid in assignment.items():
            if where.get(str(nid)) != str(cid):
                err(f"assignment says neuron {nid} is on crossbar {cid}, crossbar lists say {where.get(str(nid))}")
        if len(assignment) != len(where):
            err(f"assignment has {len(assignment)} neurons, crossbar lists {len(where)}")
    # axons each crossbar needs: sources of synapses into its neurons
    needed: dict[str, set[str]] = {str(xb.get("id")): set() for xb in xbars}
    for src, dst in graph.edges:
        cid = where.get(dst)
        if cid is not None:
            needed[cid].add(src)
    routes = glob = 0
    packets = 0.0
    w = graph.weights
    for xb in xbars:
        cid = str(xb.get("id"))
        t = sizes.get(str(xb.get("type")))
        listed = xb.get("axons")
        axons = {str(a) for a in listed} if listed is not None else needed[cid]
        missing = needed[cid] - axons
        if missing:
            err(f"crossbar {cid} lacks axons for sources {sorted(missing)[:5]} of its neurons' synapses")
        if t is not None and len(axons) > t.inputs:
            err(f"crossbar {cid} needs {len(axons)} axons but has {t.inputs} inputs")
        routes += len(axons)
        for a in axons:
            if where.get(a) != cid:
                glob += 1
                if w is not None:
                    packets += float(w.get(a, 0.0))
    return CheckReport(valid=not errors, errors=tuple(errors), area=area,
                       crossbars_used=len(xbars), routes_total=routes, routes_global=glob,
                       packets=packets if w is not None else None,
                       stats={"per_type": per_type})
