"""`map_network`: heuristic start, LNS, then the full CP-SAT model (when small enough) for a
proven bound; every result is re-validated by the independent checker."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from functools import reduce

from spikeloom.errors import ConfigError, InfeasibleError
from spikeloom.hw.baseline_mcc import mcc_mapping
from spikeloom.hw.bounds import all_bounds
from spikeloom.hw.checker import check_mapping
from spikeloom.hw.colgen import best_cover, colgen_area_bound, dive
from spikeloom.hw.crossbars import CrossbarLibrary
from spikeloom.hw.graph import Graph
from spikeloom.hw.heuristic import best_construct, retype
from spikeloom.hw.instance import OBJECTIVES, Bin, Instance
from spikeloom.hw.lns import lns, score
from spikeloom.hw.model import SlotModel
from spikeloom.hw.repack import BackgroundSearch, background_elimination, eliminate
from spikeloom.hw.result import MappedCrossbar, MappingResult, StageReport

METHODS = ("axon-sharing", "mcc")
MAX_FULL_MODEL_CELLS = 120_000  # neuron-slot pairs above which only LNS runs
ELIM_SHARE = 0.35  # of the area stage's budget: crossbar elimination (homogeneous libraries, 1 worker)
PARALLEL_SHARE = 0.95  # with 2+ workers: elimination and column generation side by side
DIVE_SHARE = 0.5  # of the area stage's time left after column generation (one process, homogeneous): price-and-dive
STALL = 8.0  # s without improvement after which the elimination child gives its core to a second dive (D: stuck at 19 from 4 s on)
COLGEN_SHARE = 0.7  # of the area stage's budget: the bound is the weak side (C: 13 -> 20 at 0.45 -> 0.7, mappings unchanged)


def _gap(value: float, bound: float) -> float:
    if value <= bound + 1e-9:
        return 0.0
    return (value - bound) / bound if bound > 0 else math.inf


def _slots(inst: Instance, bins: list[Bin], stage_caps: dict[str, float]) -> tuple[list[int], bool]:
    """Slot types for the full model, and whether they are complete (no better mapping is
    excluded, so the solver's bound is a valid bound)."""
    slots: list[int] = []
    area_cap = stage_caps.get("area")
    used = [0] * len(inst.types)
    for b in bins:
        used[b.type] += 1
    for t, ct in enumerate(inst.types):
        n_fit = sum(1 for f in inst.fanin if f <= ct.inputs)
        k = n_fit
        if area_cap is not None:
            k = min(k, int(area_cap // ct.cost))
        if ct.count is not None:
            k = min(k, ct.count)
        slots += [t] * k
    if area_cap is not None:
        return slots, True
    # no area cap (routes-only objectives): keep the model small, as many as used + 2
    slots = []
    for t, ct in enumerate(inst.types):
        k = used[t] + 2
        if ct.count is not None:
            k = min(k, ct.count)
        slots += [t] * k
    return slots, False


def _cells(inst: Instance, slots: list[int]) -> int:
    return sum(sum(1 for f in inst.fanin if f <= inst.types[t].inputs) for t in slots)


def map_network(graph: Graph, library: CrossbarLibrary, *, objective: str = "area",
                method: str = "axon-sharing", time_limit: float = 60.0, workers: int = 2,
                seed: int = 0, deterministic_time: float | None = None,
                external_inputs: bool = False, full_model: bool | None = None,
                use_colgen: bool = True, start: MappingResult | None = None,
                log: Callable[[str], None] | None = None) -> MappingResult:
    """Map `graph` onto `library` minimising `objective` (see `OBJECTIVES`).

    `method` "axon-sharing" runs heuristic + LNS + CP-SAT; "mcc" the SpikeHard-style
    baseline. `time_limit` (s) bounds the whole run; `deterministic_time` optionally bounds
    CP-SAT's deterministic time. `external_inputs` leaves the graph's inputs off the
    crossbars (their spikes arrive from outside). `full_model` None = when small enough.
    """
    if objective not in OBJECTIVES:
        raise ConfigError(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}; choose axon-sharing or mcc")
    if time_limit <= 0 or workers < 1:
        raise ConfigError("--time-limit must be > 0 and --workers >= 1")
    stages = OBJECTIVES[objective]
    if "packets" in stages and not graph.weights:
        raise ConfigError("objective packets needs a spike profile; pass --profile FILE (or --model)")
    say = log or (lambda _msg: None)
    t0 = time.perf_counter()
    inst = Instance(graph, library, external_inputs=external_inputs)
    bounds = all_bounds(inst)
    wmax = max(inst.weight, default=0.0)
    packet_scale = 1000.0 / wmax if wmax > 0 else 1.0
    det_total = 0.0
    history: list[tuple[float, float]] = []
    notes: list[str] = []
    reports: list[StageReport] = []
    bound_info: dict[str, float] = {}

    if method == "mcc":
        bins = mcc_mapping(inst)
        if bins is None:
            raise InfeasibleError("the MCC baseline cannot fit the network into the available crossbar "
                                  "counts; raise the counts or use --method axon-sharing")
        m = inst.metrics(bins)
        for st in stages:
            reports.append(StageReport(st, m[st], bounds[st], _gap(m[st], bounds[st]),
                                       "OPTIMAL" if m[st] <= bounds[st] else "HEURISTIC"))
    else:
        tries = 8 if inst.n <= 1000 else 4
        inherited: StageReport | None = None
        if start is not None:
            bins = _bins_of(inst, start)
            if stages[0] == "area" and start.stages and start.stages[0].objective == "area":
                inherited = start.stages[0]
        else:
            bins = best_construct(inst, tries, seed, lambda s: score(inst, s, stages))
        if bins is None:
            raise InfeasibleError("no mapping fits the available crossbar counts; raise the counts "
                                  "or add larger crossbars")
        say(f"heuristic: {dict(zip(stages, score(inst, bins, stages), strict=True))}")
        caps: dict[str, float] = {}
        for si, st in enumerate(stages):
            now = time.perf_counter() - t0
            left = time_limit - now
            share = 0.6 if si + 1 < len(stages) else 1.0
            budget = max(0.2, left * share)
            det_budget = None
            if deterministic_time is not None:
                det_budget = max(0.05, (deterministic_time - det_total) * share)
            lb = bounds[st]
            value = inst.metrics(bins)[st]
            status = "FEASIBLE"
            if si == 0 and inherited is not None:
                reports.append(inherited)
                caps[st] = value
                continue
            if value <= lb:
                reports.append(StageReport(st, value, lb, 0.0, "OPTIMAL"))
                caps[st] = value
                continue
            slots, complete = _slots(inst, bins, {**caps, **({"area": inst.metrics(bins)["area"]} if st == "area" else {})})
            use_full = full_model if full_model is not None else _cells(inst, slots) <= MAX_FULL_MODEL_CELLS
            lns_share = 0.3 if use_full else 1.0
            # above ~1,500 neurons the master LP stays degenerate at the start mapping for
            # minutes (2,000 neurons: no LP progress in 60 s), so the time goes to the LNS
            colgen_share = COLGEN_SHARE if use_colgen and inst.n <= 1500 else 0.0

            def mark(t: float, sc: tuple[float, ...], _si: int = si) -> None:
                if _si == 0:
                    history.append((round(t - t0, 2), sc[0]))

            if st == "area" and len(inst.types) == 1 and ELIM_SHARE > 0:
                # empty one crossbar into the others by local search, repeatedly (repack.py):
                # with 2+ workers in a second process next to the column generation
                cost = inst.types[0].cost
                parallel = workers >= 2 and colgen_share > 0
                # without column generation (above 1,500 neurons) the LNS is the alternative,
                # and it barely moved the 2,000-neuron mapping: elimination gets most of the time
                t_el = budget * (PARALLEL_SHARE if parallel else ELIM_SHARE if colgen_share > 0 else 0.8)
                el_end = time.perf_counter() + t_el
                if parallel:
                    core = _SecondCore(inst, bins, el_end, seed, lb, say)
                    cg_lb, cg_info, cols = colgen_area_bound(inst, bins, t_el, 1, target=core.area,
                                                             on_bound=core.raise_bound, on_columns=core.offer_columns)
                    lb = max(lb, cg_lb)
                    core.raise_bound(lb)
                    bound_info.update({f"colgen_{k}": v for k, v in cg_info.items()})
                    bound_info["colgen_bound"] = cg_lb
                    say(f"area: column generation bound {cg_lb} (LP {cg_info.get('lp_value', 0):.1f})")
                    core.offer_columns(cols)
                    # the second core's mapping is above the bound: dive the LP while it searches on
                    dived = _dive_down(inst, cols, core.area(), lb, el_end, seed,
                                       stop=lambda _c=core, _lb=lb: _c.area() <= _lb)
                    if dived is not None:
                        core.cancel()
                        say(f"area: price-and-dive reached {inst.metrics(dived)[st]}")
                    new_bins = min(core.results() + ([dived] if dived else []), key=lambda b: inst.metrics(b)[st])
                    colgen_share = 0.0
                else:
                    new_bins = eliminate(inst, bins, t_el, seed=seed, target=math.ceil(lb / cost - 1e-9))
                if inst.metrics(new_bins)[st] < value:
                    bins = new_bins
                    value = inst.metrics(bins)[st]
                    mark(time.perf_counter(), (value,))
                say(f"area: crossbar elimination reached {value} (bound {lb})")
                if value <= lb:
                    reports.append(StageReport(st, value, lb, 0.0, "OPTIMAL"))
                    caps[st] = value
                    continue
                left = time_limit - (time.perf_counter() - t0)
                budget = max(0.2, left * share)
            if st == "area" and colgen_share > 0:
                t_cg = budget * colgen_share
                cg_lb, cg_info, cols = colgen_area_bound(inst, bins, t_cg, workers, target=value)
                lb = max(lb, cg_lb)
                bound_info.update({f"colgen_{k}": v for k, v in cg_info.items()})
                bound_info["colgen_bound"] = cg_lb
                if value > lb:
                    cover = best_cover(inst, cols, min(5.0, 0.1 * budget), workers, seed, hint=bins)
                    if cover is not None:
                        cover = retype(inst, cover)
                        if inst.is_valid(cover) and score(inst, cover, (st,)) < score(inst, bins, (st,)):
                            bins = cover
                            value = inst.metrics(bins)[st]
                            mark(time.perf_counter(), (value,))
                if value > lb and len(inst.types) == 1:
                    # homogeneous only: on table2 (30 s) the dive's areas stayed within the run-to-run
                    # spread (A 1664, C 1664 vs 1744, 1760; B, D, E higher) for half the time left
                    left = time_limit - (time.perf_counter() - t0)
                    dived = _dive_down(inst, cols, value, lb, time.perf_counter() + DIVE_SHARE * left * share, seed)
                    if dived is not None:
                        bins = retype(inst, dived)
                        value = inst.metrics(bins)[st]
                        mark(time.perf_counter(), (value,))
                say(f"area: column generation bound {cg_lb} (LP {cg_info.get('lp_value', 0):.1f}); value {value}")
                left = time_limit - (time.perf_counter() - t0)
                budget = max(0.2, left * share)
                if value <= lb:
                    reports.append(StageReport(st, value, lb, 0.0, "OPTIMAL"))
                    caps[st] = value
                    continue
            t_lns = budget * lns_share
            if st == "packets":
                # global routes first (packets are spike-weighted global routes): from the area
                # mapping the packet search alone stalled (preset A: 1,106 packets after 15 s and
                # after 45 s, where global-routes mappings have 1,081-1,127)
                warm, det = lns(inst, bins, ("global",), time_limit=t_lns / 3, workers=workers, seed=seed + si,
                                deterministic_limit=None if det_budget is None else det_budget * lns_share / 3,
                                area_cap=caps.get("area"))
                det_total += det
                if inst.metrics(warm)[st] < value:
                    bins, value = warm, inst.metrics(warm)[st]
                t_lns *= 2 / 3
            bins, det = lns(inst, bins, (st,), time_limit=t_lns, workers=workers, seed=seed + si,
                            deterministic_limit=None if det_budget is None else det_budget * lns_share,
                            target=(lb,), packet_scale=packet_scale, log=mark,
                            area_cap=caps.get("area"))
            det_total += det
            value = inst.metrics(bins)[st]
            say(f"{st}: LNS reached {value} (bound {lb})")
            if use_full and value > lb:
                stage_caps = dict(caps)
                if st == "area":
                    stage_caps["area"] = value
                slots, complete = _slots(inst, bins, stage_caps)
                sm = SlotModel(inst, list(range(inst.n)), slots, stages[: si + 1], packet_scale)
                sm.hint(bins)
                fixed = [(sm.exprs[s], int(caps[s])) for s in stages[:si] if s != "packets"]
                remaining = max(0.2, t0 + time_limit * (1.0 if si + 1 == len(stages) else 1.0) - time.perf_counter())
                t_full = min(remaining, budget * (1 - lns_share) + 0.5) if si + 1 < len(stages) else remaining
                out = sm.solve(sm.exprs[st], t_full, workers, seed,
                               lower=int(lb) if st != "packets" else None,
                               deterministic_limit=None if det_budget is None else det_budget * (1 - lns_share),
                               upper=int(value) if st != "packets" else None, fixed=fixed)
                det_total += out.deterministic_time
                if out.bins is not None and inst.is_valid(out.bins):
                    new = inst.metrics(out.bins)
                    if new[st] < value and all(new[s] <= caps[s] for s in caps):
                        bins = out.bins
                        value = new[st]
                        if si == 0:
                            history.append((round(time.perf_counter() - t0, 2), value))
                if complete and out.bound is not None and not (si > 0 and reports[0].status != "OPTIMAL"):
                    solver_lb = out.bound / packet_scale if st == "packets" else out.bound
                    bound_info[f"solver_{st}"] = solver_lb
                    lb = max(lb, math.ceil(solver_lb - 1e-6) if st != "packets" else solver_lb)
                if out.status == "OPTIMAL" and (complete or value <= lb):
                    status = "OPTIMAL"
                elif out.status == "INFEASIBLE" and complete:
                    status = "OPTIMAL"  # nothing beats the incumbent (upper bound was the incumbent)
                    lb = max(lb, value)
                say(f"{st}: CP-SAT {out.status} value {value} bound {lb}")
            elif not use_full:
                notes.append(f"{st}: network too large for the full CP-SAT model; heuristic search only "
                             "(elimination, LNS), bound is independent")
            if value <= lb:
                status = "OPTIMAL"
            reports.append(StageReport(st, value, lb, _gap(value, lb), status))
            caps[st] = value
    wall = time.perf_counter() - t0
    bounds = {**bounds, **{f"best_{r.objective}": r.lower_bound for r in reports}, **bound_info}
    result = _result(inst, bins, graph, library, method, objective, reports, bounds, wall,
                     det_total, seed, time_limit, workers, external_inputs, history, notes)
    return result


def _dive_down(inst: Instance, columns: list[tuple[int, tuple[int, ...]]], value: float, lb: float,
               t_end: float, seed: int, stop: Callable[[], bool] | None = None, explore: bool = False,
               log: Callable[[list[Bin]], None] | None = None) -> list[Bin] | None:
    """Price-and-dive (colgen.dive) for a mapping cheaper than `value`, again below each one
    found (each passed to `log`), until `lb`, `t_end` or `stop()`; the cheapest found or None."""
    g = reduce(math.gcd, (t.cost for t in inst.types))
    best = None
    while value > lb and t_end - time.perf_counter() > 1.0:
        out = dive(inst, columns, t_end - time.perf_counter(), max(lb, value - g), seed=seed, stop=stop,
                   explore=explore)
        if out is None:
            break
        best, value = out, inst.metrics(out)["area"]
        if log is not None:
            log(best)
    return best


class _SecondCore:
    """The second process of a 2-worker area stage (homogeneous library): crossbar
    elimination (repack.py) first; once that has not improved for STALL s, a price-and-dive
    over the columns generated so far instead (`offer_columns`), exploring other dives than
    the parent's. Preset D: the elimination stays at 19 from 4 s on, dives reach 18. Areas
    and bounds in cells."""

    def __init__(self, inst: Instance, bins: list[Bin], t_end: float, seed: int, lb: float,
                 say: Callable[[str], None]) -> None:
        self.inst, self.t_end, self.seed, self.lb, self.say = inst, t_end, seed, lb, say
        self.cost = inst.types[0].cost
        self.found: list[list[Bin]] = []
        self.bg = background_elimination(inst, bins, t_end - time.perf_counter(), seed, self._k(lb))
        self.diving = False

    def _k(self, area: float) -> int:
        return math.ceil(area / self.cost - 1e-9)

    def area(self) -> float:
        """The child's best area so far."""
        return self.bg.crossbars() * self.cost

    def raise_bound(self, lb: float) -> None:
        self.lb = max(self.lb, lb)
        self.bg.raise_bound(self._k(lb))

    def cancel(self) -> None:
        self.bg.cancel()

    def offer_columns(self, columns: list[tuple[int, tuple[int, ...]]]) -> None:
        """Switch to the dive when the elimination has stalled above the bound."""
        bg = self.bg
        if self.diving or bg.proc is None or bg.stalled() < STALL or self.area() <= self.lb:
            return
        bg.cancel()
        self.found.append(bg.result())
        self.say(f"area: elimination stalled at {len(self.found[-1])} crossbars; a second dive instead")
        self.bg = _background_dive(self.inst, columns, self.found[-1], self.lb, self.t_end, self.seed + 1)
        self.diving = True

    def results(self) -> list[list[Bin]]:
        """Every mapping it found (waits for the child)."""
        return self.found + [self.bg.result()]


def _background_dive(inst: Instance, columns: list[tuple[int, tuple[int, ...]]], bins: list[Bin], lb: float,
                     t_end: float, seed: int) -> BackgroundSearch:
    """_dive_down below `bins` in a forked child (homogeneous library), its first column
    picked at random near the largest so that it explores other dives than the parent's;
    it stops at `lb`, `t_end` or when cancelled."""
    cost = inst.types[0].cost
    best = [len(bins)]

    def search(log: Callable[[list[Bin]], None], goal: Callable[[], int]) -> None:
        def keep(b: list[Bin]) -> None:
            best[0] = len(b)
            log(b)

        # goal: the parent's bound, raised while it searches (cancel() raises it above any count)
        _dive_down(inst, columns, len(bins) * cost, lb, t_end, seed, explore=True, log=keep,
                   stop=lambda: best[0] <= goal())

    return BackgroundSearch(inst, bins, t_end - time.perf_counter(), math.ceil(lb / cost - 1e-9), search)


def _bins_of(inst: Instance, start: MappingResult) -> list[Bin]:
    """The crossbars of an earlier result, in index form (checked against this instance)."""
    pos = {inst.node_ids[v]: p for p, v in enumerate(inst.placed)}
    type_of = {t.name: k for k, t in enumerate(inst.types)}
    try:
        bins = [Bin(type_of[x.type], tuple(pos[n] for n in x.neurons)) for x in start.crossbars]
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
