"""`map_network`: a house of stages (stages.py) sharing one incumbent, one bound per
lexicographic stage and one `Budget`; every result is re-validated by the independent
checker."""

from __future__ import annotations

from collections.abc import Callable

from spikeloom.errors import ConfigError, InfeasibleError
from spikeloom.hw.baseline_mcc import mcc_mapping
from spikeloom.hw.bounds import all_bounds, area_bound
from spikeloom.hw.budget import SHARES, Budget, Shares
from spikeloom.hw.checker import check_mapping
from spikeloom.hw.crossbars import CrossbarLibrary, split_dominated
from spikeloom.hw.graph import Graph
from spikeloom.hw.heuristic import merge
from spikeloom.hw.hypergraph import available as hypergraph_available
from spikeloom.hw.hypergraph import hypergraph_mapping
from spikeloom.hw.incumbent import Bound, Incumbent, gap
from spikeloom.hw.instance import OBJECTIVES, Bin, Instance
from spikeloom.hw.layers import depth_layers, layer_graph, side_by_side
from spikeloom.hw.lns import score
from spikeloom.hw.result import MappedCrossbar, MappingResult, StageReport
from spikeloom.hw.stages import (
    COLGEN_MAX_NEURONS,
    Run,
    area_search,
    construct,
    cpsat_stage,
    full_model_fits,
    hypergraph_start,
    lns_stage,
    source_bound_stage,
)

METHODS = ("axon-sharing", "mcc", "hypergraph")
STARTS = ("auto", "construct", "hypergraph", "layers", "best")


def map_network(graph: Graph, library: CrossbarLibrary, *, objective: str = "area",
                method: str = "axon-sharing", time_limit: float = 60.0, workers: int = 2,
                seed: int = 0, deterministic_time: float | None = None,
                external_inputs: bool = False, full_model: bool | None = None,
                use_colgen: bool = True, start: MappingResult | None = None,
                start_method: str = "auto", shares: Shares = SHARES, log: Callable[[str], None] | None = None) -> MappingResult:
    """Map `graph` onto `library` minimising `objective` (see `OBJECTIVES`).

    `method` "axon-sharing" runs the stages of stages.py; "mcc" the SpikeHard-style
    baseline; "hypergraph" a repaired Mt-KaHyPar partition (baseline, extra `hypergraph`).
    `start_method`: the first mapping of the search, "construct" (constructive heuristic),
    "hypergraph" (the repaired partition, for `shares.hypergraph` of the time), "layers"
    (each depth layer mapped alone, for `shares.layers`; homogeneous libraries), "best"
    (each of them that applies; the best one) or "auto" ("best" above COLGEN_MAX_NEURONS
    neurons, else "construct"). `time_limit` (s) bounds the whole run; `deterministic_time` optionally bounds
    CP-SAT's deterministic time; `shares` splits the time between the stages (budget.py).
    `external_inputs` leaves the graph's inputs off the crossbars (their spikes arrive from
    outside). `full_model` None = when small enough. `start`: begin from an earlier
    result's mapping (its area stage is taken over when both begin with area).
    """
    if objective not in OBJECTIVES:
        raise ConfigError(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if start_method not in STARTS:
        raise ConfigError(f"unknown start {start_method!r}; choose one of {', '.join(STARTS)}")
    if time_limit <= 0 or workers < 1:
        raise ConfigError("--time-limit must be > 0 and --workers >= 1")
    stages = OBJECTIVES[objective]
    if "packets" in stages and not graph.weights:
        raise ConfigError("objective packets needs a spike profile; pass --profile FILE (or --model)")
    say = log or (lambda _msg: None)
    budget = Budget(time_limit, deterministic_time, shares)
    inst = Instance(graph, library, external_inputs=external_inputs)
    bounds = all_bounds(inst)
    notes: list[str] = []
    reports: list[StageReport] = []
    info: dict[str, float] = {}
    duals = None
    if "area" in stages:
        bounds["source_area"], duals = source_bound_stage(inst, budget, info)
    history: tuple[tuple[float, float], ...] = ()

    if method in ("mcc", "hypergraph"):
        if method == "mcc":
            bins = mcc_mapping(inst)
            if bins is None:
                raise InfeasibleError("the MCC baseline cannot fit the network into the available crossbar "
                                      "counts; raise the counts or use --method axon-sharing")
        else:
            bins, hg_info = hypergraph_mapping(inst, max(budget.shares.min_step_s, budget.left()), seed, workers)
            info.update(hg_info)
        m = inst.metrics(bins)
        for st in stages:
            b = _first_bound(bounds, st)
            reports.append(StageReport(st, m[st], b.value, gap(m[st], b.value),
                                       "OPTIMAL" if m[st] <= b.value else "HEURISTIC", b.source))
    else:
        bins, reports, history = _search(inst, stages, budget, bounds, workers, seed, full_model, use_colgen,
                                         start, start_method, info, notes, say, duals)
    wall = budget.elapsed()
    bounds = {**bounds, **{f"best_{r.objective}": r.lower_bound for r in reports}, **info}
    return _result(inst, bins, graph, library, method, objective, reports, bounds, wall,
                   budget.det_used, seed, time_limit, workers, external_inputs, history, notes)


def _search(inst: Instance, stages: tuple[str, ...], budget: Budget, bounds: dict[str, float], workers: int,
            seed: int, full_model: bool | None, use_colgen: bool, start: MappingResult | None,
            start_method: str, info: dict[str, float], notes: list[str], say: Callable[[str], None],
            duals: list[float] | None = None
            ) -> tuple[list[Bin], list[StageReport], tuple[tuple[float, float], ...]]:
    """The axon-sharing search: a start (given, constructed and/or a repaired hypergraph
    partition, the better one), then per lexicographic stage the area stages (area_search),
    LNS and the full CP-SAT model, each stopping once the stage's bound is met."""
    inherited: StageReport | None = None
    # the area stage searches the library without its split-dominated sizes (same optimum,
    # a smaller search: table2 keeps its four A x 4 sizes); the later stages use the whole
    # library, from the area mapping with equal-area merges
    area_inst = _split_reduced(inst) if start is None and stages[0] == "area" else inst
    if area_inst is not inst:
        # the counting bound of the reduced library also bounds the whole one (same optimum)
        bounds["area"] = max(bounds["area"], area_bound(area_inst))
        notes.append(f"area: searched on the sizes {', '.join(t.name for t in area_inst.types)} "
                     "(the others are split-dominated: same optimum), then merged at equal area")
    if start is not None:
        bins = _bins_of(inst, start)
        if stages[0] == "area" and start.stages and start.stages[0].objective == "area":
            inherited = start.stages[0]
    else:
        bins = _start(area_inst, stages, budget, seed, workers, start_method, info, notes, say)
    if bins is None:
        raise InfeasibleError("no mapping fits the available crossbar counts; raise the counts "
                              "or add larger crossbars")
    say(f"start: {dict(zip(stages, score(area_inst, bins, stages), strict=True))}")
    info["start_area"] = area_inst.metrics(bins)["area"]
    wmax = max(inst.weight, default=0.0)
    incumbent = Incumbent(area_inst, bins, stages[0], budget.t0)
    reports: list[StageReport] = []
    caps: dict[str, float] = {}
    for si, st in enumerate(stages):
        if si > 0 and incumbent.inst is not inst:  # back to the whole library after the area stage
            incumbent = _on_library(inst, incumbent)
        budget.open_stage(last=si + 1 == len(stages))
        run = Run(incumbent.inst, stages[: si + 1], incumbent, _first_bound(bounds, st), budget, workers, seed,
                  packet_scale=1000.0 / wmax if wmax > 0 else 1.0, caps=dict(caps), info=info, notes=notes,
                  trust_solver=si == 0 or reports[0].status == "OPTIMAL", say=say,
                  global_start=start is not None and "global" in OBJECTIVES[start.objective],
                  duals=duals if st == "area" and incumbent.inst is inst else None)
        if si == 0 and inherited is not None:
            reports.append(inherited)
            caps[st] = run.value()
            continue
        if not run.closed():
            full_caps = {**caps, **({"area": run.value()} if st == "area" else {})}
            use_full = full_model if full_model is not None else full_model_fits(run.inst, incumbent.bins, full_caps)
            if st == "area":
                area_search(run, use_colgen)
            if not run.closed():
                lns_stage(run, "lns" if use_full else None)
            if use_full and not run.closed():
                cpsat_stage(run, det_share=1.0 - budget.shares.lns)
            elif not use_full:
                notes.append(f"{st}: network too large for the full CP-SAT model; heuristic search only "
                             "(elimination, LNS), bound is independent")
        reports.append(run.report())
        caps[st] = run.value()
    if incumbent.inst is not inst:
        incumbent = _on_library(inst, incumbent)
    return incumbent.bins, reports, tuple(incumbent.history)


def _start(inst: Instance, stages: tuple[str, ...], budget: Budget, seed: int, workers: int, method: str,
           info: dict[str, float], notes: list[str], say: Callable[[str], None]) -> list[Bin] | None:
    """The first mapping by `method` (STARTS): "auto" is "best" above COLGEN_MAX_NEURONS
    neurons, else "construct"; "best" takes the best of the constructive heuristic, the
    repaired hypergraph partition (when mtkahypar is installed) and the layer-by-layer
    mapping (where it applies: `_layers`); "layers" falls back to the constructive
    heuristic where it does not. None when nothing fits the crossbar counts."""
    if method == "auto":
        method = "best" if inst.n > COLGEN_MAX_NEURONS else "construct"
    found: list[list[Bin] | None] = []
    layers = _layers(inst) if method in ("layers", "best") else []
    if method == "layers" and not layers:
        notes.append("start: the layer-by-layer start does not apply (it needs one crossbar size and 2+ "
                     "layers none of which holds most neurons); constructive heuristic instead")
        method = "construct"
    if method in ("construct", "best"):
        found.append(construct(inst, stages, seed, budget.clock() + budget.run_seconds("construct")))
    if method == "hypergraph" or (method == "best" and hypergraph_available()):
        found.append(hypergraph_start(inst, budget, seed, workers, info))
        info["hypergraph_area"] = inst.metrics(found[-1])["area"]
        say(f"hypergraph start: {dict(zip(stages, score(inst, found[-1], stages), strict=True))}")
    if layers:
        found.append(_layered_start(inst, layers, budget, seed, workers, info, say))
    return min((b for b in found if b is not None), key=lambda b: score(inst, b, stages), default=None)


def _layers(inst: Instance) -> list[list[int]]:
    """The depth layers (layers.py) when the layer-by-layer start applies: a homogeneous
    library (the elimination that merges them is homogeneous) and 2+ layers, none holding
    more than half the neurons (a network around one recurrent core gains no start from
    its few small layers, only loses their time); else []."""
    if len(inst.types) != 1:
        return []
    layers = depth_layers(inst)
    if len(layers) < 2 or 2 * max(map(len, layers)) > sum(map(len, layers)):
        return []
    return layers


def _layered_start(inst: Instance, layers: list[list[int]], budget: Budget, seed: int, workers: int,
                   info: dict[str, float], say: Callable[[str], None]) -> list[Bin]:
    """Each of the `layers` mapped alone on area, its sources external, for `shares.layers`
    of the run's time: each layer gets the time still left of it split by the neuron counts
    left (a layer that overruns or ends early shifts the others); the layer mappings side
    by side."""
    deadline = budget.clock() + budget.run_seconds("layers")
    left = sum(map(len, layers))
    groups: list[list[int]] = []
    for k, layer in enumerate(layers):
        sub = layer_graph(inst, layer, f"{inst.graph.name} layer {k + 1}")
        seconds = max(budget.shares.min_step_s, (deadline - budget.clock()) * len(layer) / left)
        left -= len(layer)
        r = map_network(sub, inst.library, objective="area", time_limit=seconds,
                        workers=workers, seed=seed, external_inputs=True)
        groups += [[inst.position[n] for n in x.neurons] for x in r.crossbars]
    bins = side_by_side(inst, groups)
    info.update({"layers": len(layers), "layers_area": inst.metrics(bins)["area"]})
    say(f"layered start ({len(layers)} layers): {{'area': {info['layers_area']}}}")
    return bins


def _split_reduced(inst: Instance) -> Instance:
    """`inst` on its library without the split-dominated sizes (crossbars.split_dominated),
    or `inst` itself when none is."""
    drop = set(split_dominated(inst.types))
    if not drop:
        return inst
    lib = CrossbarLibrary(tuple(t for k, t in enumerate(inst.types) if k not in drop), name=inst.library.name)
    return Instance(inst.graph, lib, external_inputs=inst.external_inputs)


def _on_library(inst: Instance, incumbent: Incumbent) -> Incumbent:
    """The incumbent of a split-reduced instance on the whole library `inst`: sizes by name,
    then equal-area merges (heuristic.merge: fewer crossbars and routes); history kept."""
    index = {t.name: k for k, t in enumerate(inst.types)}
    sub = incumbent.inst.types
    bins = merge(inst, [Bin(index[sub[b.type].name], b.neurons) for b in incumbent.bins])
    out = Incumbent(inst, bins, incumbent.primary, incumbent.t0)
    out.history = list(incumbent.history)
    return out


def _first_bound(bounds: dict[str, float], objective: str) -> Bound:
    """The best bound known before the search (bounds.py): counting, or for area the
    conflict or the source-cover bound (source_bound.py) where it is higher."""
    bound = Bound(bounds[objective], "counting")
    if objective == "area":
        bound.raise_to(bounds.get("conflict_area", 0.0), "conflict")
        bound.raise_to(bounds.get("source_area", 0.0), "source-cover")
    return bound


def _bins_of(inst: Instance, start: MappingResult) -> list[Bin]:
    """The crossbars of an earlier result, in index form (checked against this instance)."""
    type_of = {t.name: k for k, t in enumerate(inst.types)}
    try:
        bins = [Bin(type_of[x.type], tuple(inst.position[n] for n in x.neurons)) for x in start.crossbars]
    except KeyError as err:
        raise ConfigError(f"the start mapping does not match this network/library: {err}") from None
    if not inst.is_valid(bins):
        raise ConfigError("the start mapping is not a valid mapping of this network and library")
    return bins


def _result(inst: Instance, bins: list[Bin], graph: Graph, library: CrossbarLibrary, method: str,
            objective: str, reports: list[StageReport], bounds: dict[str, float], wall: float,
            det: float, seed: int, time_limit: float, workers: int, external_inputs: bool,
            history: list[tuple[float, float]], notes: list[str]) -> MappingResult:
    ordered = sorted(bins, key=lambda b: (-inst.types[b.type].cost, min(b.neurons)))
    xbars = []
    for k, b in enumerate(ordered):
        ct = inst.types[b.type]
        axons = sorted(inst.axons(b.neurons))
        xbars.append(MappedCrossbar(k, ct.name, ct.inputs, ct.outputs, ct.cost,
                                    tuple(inst.node_ids[inst.placed[p]] for p in sorted(b.neurons)),
                                    tuple(inst.node_ids[v] for v in axons)))
    ext = tuple(graph.inputs) if external_inputs else ()
    mapping = {"crossbars": [x.to_dict() for x in xbars],
               "assignment": {n: x.id for x in xbars for n in x.neurons}}
    report = check_mapping(graph, library, mapping, external=ext)
    primary = reports[0]
    status = "OPTIMAL" if all(r.status == "OPTIMAL" for r in reports) else reports[-1].status
    if method == "mcc":
        status = "HEURISTIC"
    return MappingResult(
        network=graph.name, library=library.name, method=method, objective=objective,
        crossbars=tuple(xbars), area=report.area, crossbars_used=report.crossbars_used,
        routes_total=report.routes_total, routes_global=report.routes_global,
        packets=report.packets, lower_bound=primary.lower_bound, gap=primary.gap,
        status=status, stages=tuple(reports), lower_bounds=dict(bounds), solver_seconds=wall,
        deterministic_time=det, valid=report.valid, check_errors=report.errors, seed=seed,
        time_limit=time_limit, workers=workers, external_inputs=ext, history=tuple(history),
        notes=tuple(notes))
