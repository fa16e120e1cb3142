"""The stages of `map_network`, each a function of one `Run` (the instance, the shared
incumbent, the stage's bound and the `Budget`): construct, hypergraph start, eliminate,
bound (column generation), cover, dive, LNS and the full CP-SAT model. `area_search`
chains the area-only ones; `mapper.map_network` runs them per lexicographic stage."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from spikeloom.hw.anneal import anneal_area, applies
from spikeloom.hw.budget import Budget
from spikeloom.hw.colgen import colgen_area_bound
from spikeloom.hw.connected_bound import BoundChild
from spikeloom.hw.dive import background_dive, best_cover, dive_down
from spikeloom.hw.heuristic import best_construct, retype
from spikeloom.hw.hypergraph import hypergraph_mapping
from spikeloom.hw.incumbent import Bound, Incumbent, gap
from spikeloom.hw.instance import Bin, Instance
from spikeloom.hw.lns import lns, score
from spikeloom.hw.master import Column
from spikeloom.hw.model import SlotModel
from spikeloom.hw.repack import BackgroundSearch, background_elimination, eliminate
from spikeloom.hw.result import StageReport
from spikeloom.hw.source_bound import source_cover_bound
from spikeloom.hw.typed_repack import eliminate_typed

MAX_FULL_MODEL_CELLS = 120_000  # neuron-slot pairs above which the full CP-SAT model is skipped
# above this many neurons the master LP stays degenerate at the start mapping for minutes
# (2,000 neurons: no LP progress in 60 s), so column generation is skipped
COLGEN_MAX_NEURONS = 1500


@dataclass
class Run:
    """What the stages share within one lexicographic stage. `objectives`: the stages so far,
    this one last; `caps`: the values the earlier stages reached (kept as upper limits);
    `info`: figures for summary.json `lower_bounds`; `trust_solver`: the full model's bound
    is valid for this stage (the earlier stages were proven optimal); `global_start`: the
    start is a global-routes mapping (a packets stage then skips its global-routes warm-up
    and only improves on it)."""

    inst: Instance
    objectives: tuple[str, ...]
    incumbent: Incumbent
    bound: Bound
    budget: Budget
    workers: int = 2
    seed: int = 0
    packet_scale: float = 1.0
    caps: dict[str, float] = field(default_factory=dict)
    info: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    trust_solver: bool = True
    global_start: bool = False  # the start mapping was optimised for global routes already
    duals: list[float] | None = None  # source-cover duals of inst's neurons (area), where the connected bound starts
    status: str = "FEASIBLE"
    say: Callable[[str], None] = lambda _msg: None

    @property
    def objective(self) -> str:
        return self.objectives[-1]

    def value(self) -> float:
        return self.incumbent.value(self.objective)

    def closed(self) -> bool:
        """The incumbent meets the bound (proven optimal)."""
        return self.value() <= self.bound.value + 1e-9

    def offer(self, bins: list[Bin] | None, ties: bool = False) -> bool:
        return self.incumbent.offer(bins, self.objective, self.caps, time.perf_counter(), ties=ties)

    def report(self) -> StageReport:
        value, lb = self.value(), self.bound.value
        status = "OPTIMAL" if self.closed() else self.status
        return StageReport(self.objective, value, lb, gap(value, lb), status, self.bound.source)


def construct(inst: Instance, objectives: tuple[str, ...], seed: int, deadline: float = math.inf) -> list[Bin] | None:
    """Constructive heuristic (heuristic.py): the best of 8 seeded tries (4 above 1,000
    neurons) under the lexicographic objectives; no try starts after `deadline` but the first
    (one try on 20,000 neurons: 0.2 s)."""
    tries = 8 if inst.n <= 1000 else 4
    return best_construct(inst, tries, seed, lambda s: score(inst, s, objectives), deadline)


def source_bound_stage(inst: Instance, budget: Budget, info: dict[str, float]) -> tuple[int, list[float]]:
    """The source-cover area bound (source_bound.py) and its duals, for `shares.source` of the
    run's time (at most `source_max_s`; sources left when it runs out take the uniform dual)."""
    lb, pi, sb_info = source_cover_bound(inst, budget.run_seconds("source", cap=budget.shares.source_max_s))
    info.update(sb_info)
    info["source_bound"] = lb
    return lb, pi


def hypergraph_start(inst: Instance, budget: Budget, seed: int, workers: int, info: dict[str, float]) -> list[Bin]:
    """A repaired Mt-KaHyPar partition (hypergraph.py) for `shares.hypergraph` of the run's
    time (at most `hypergraph_max_s`; its first partition is always finished)."""
    bins, hg_info = hypergraph_mapping(inst, budget.run_seconds("hypergraph", cap=budget.shares.hypergraph_max_s),
                                       seed, workers)
    info.update(hg_info)
    return bins


def eliminate_stage(run: Run, share: str) -> None:
    """Crossbar elimination (repack.py) for `budget.seconds(share)`, homogeneous libraries,
    restarting from the incumbent once a descent stalls (`shares.restart_s`)."""
    cost = run.inst.types[0].cost
    bins = eliminate(run.inst, run.incumbent.bins, run.budget.seconds(share), seed=run.seed,
                     target=math.ceil(run.bound.value / cost - 1e-9), restart_s=run.budget.shares.restart_s)
    run.offer(bins)
    run.say(f"area: crossbar elimination reached {run.value()} (bound {run.bound.value})")


def typed_search(inst: Instance, bins: list[Bin], seconds: float, seed: int,
                 target: float | Callable[[], float], log: Callable[[list[Bin]], None] | None = None) -> list[Bin]:
    """The area search for mixed libraries: annealing on the area (anneal.py) when every size
    is unlimited, else the typed elimination (typed_repack.py): on table2's A x 4 sizes (dev
    seeds 8000-8009, 15 s, one core) the annealing reached 1,404.8 cells on average, the
    elimination 1,572.8 (docs/mapping.md)."""
    if applies(inst):
        return anneal_area(inst, bins, seconds, seed=seed, target=target, log=log)
    return eliminate_typed(inst, bins, seconds, seed=seed, target=target, log=log)


def typed_search_stage(run: Run, share: str) -> None:
    """The mixed-library area search (`typed_search`) for `shares.<share>` of the stage."""
    bins = typed_search(run.inst, run.incumbent.bins, run.budget.seconds(share), run.seed, run.bound.value)
    run.offer(bins)
    run.say(f"area: mixed-library search reached {run.value()} (bound {run.bound.value})")


def parallel_typed_stage(run: Run) -> list[Column]:
    """Two processes (mixed library): the area search (`typed_search`) in a forked child
    beside the column-generation bound, for `shares.parallel` of the stage; each side stops
    the other once the incumbent meets the bound. Returns the columns."""
    inst = run.inst
    t_el = run.budget.seconds("parallel")
    start = run.incumbent.bins

    def area(b: list[Bin]) -> int:
        return int(inst.metrics(b)["area"])

    bg = BackgroundSearch(inst, start, t_el, int(run.bound.value), lambda log, goal: typed_search(
        inst, start, t_el, run.seed, goal, log), measure=area)
    cg_lb, cg_info, cols = colgen_area_bound(inst, start, t_el, 1, target=bg.crossbars, on_bound=bg.raise_bound)
    _colgen_info(run, cg_lb, cg_info)
    bg.raise_bound(int(run.bound.value))
    run.offer(bg.result())
    run.say(f"area: mixed-library search reached {run.value()} (bound {run.bound.value})")
    return cols


def _colgen_info(run: Run, cg_lb: float, cg_info: dict[str, float]) -> None:
    run.info.update({f"colgen_{k}": v for k, v in cg_info.items()})
    run.info["colgen_bound"] = cg_lb
    run.bound.raise_to(cg_lb, "colgen")
    run.say(f"area: column generation bound {cg_lb} (LP {cg_info.get('lp_value', 0):.1f}); value {run.value()}")


def bound_stage(run: Run) -> list[Column]:
    """Column-generation bound (colgen.py) in one process; returns the columns."""
    cg_lb, cg_info, cols = colgen_area_bound(run.inst, run.incumbent.bins, run.budget.seconds("colgen"),
                                             run.workers, target=run.value())
    _colgen_info(run, cg_lb, cg_info)
    return cols


def cover_stage(run: Run, columns: list[Column]) -> None:
    """Price-and-branch: CP-SAT over the generated columns (dive.best_cover)."""
    cover = best_cover(run.inst, columns, run.budget.seconds("cover", cap=run.budget.shares.cover_max_s),
                       run.workers, run.seed, hint=run.incumbent.bins)
    if cover is not None:
        run.offer(retype(run.inst, cover))


def dive_stage(run: Run, columns: list[Column]) -> None:
    """Price-and-dive below the incumbent (dive.dive_down), one process. Homogeneous only:
    on table2 (30 s) the dive's areas stayed within the run-to-run spread."""
    dived = dive_down(run.inst, columns, run.value(), run.bound.value, run.budget.until("dive"), run.seed)
    if dived is not None:
        run.offer(retype(run.inst, dived))


def parallel_area_stage(run: Run) -> list[Column]:
    """Two processes (homogeneous library): the elimination in a forked child (SecondCore)
    next to column generation, then price-and-dive while the child searches on. Each side
    stops the other on reaching the bound. Returns the columns."""
    inst, budget = run.inst, run.budget
    t_el = budget.seconds("parallel")
    el_end = time.perf_counter() + t_el
    core = SecondCore(inst, run.incumbent.bins, el_end, run.seed, run.bound.value, run.say, budget.shares.stall_s)
    cg_lb, cg_info, cols = colgen_area_bound(inst, run.incumbent.bins, t_el, 1, target=core.area,
                                             on_bound=core.raise_bound, on_columns=core.offer_columns)
    _colgen_info(run, cg_lb, cg_info)
    lb = run.bound.value
    core.raise_bound(lb)
    core.offer_columns(cols)
    # the second core's mapping is above the bound: dive the LP while it searches on
    dived = dive_down(inst, cols, core.area(), lb, el_end, run.seed, stop=lambda: core.area() <= lb)
    if dived is not None:
        core.cancel()
        run.say(f"area: price-and-dive reached {inst.metrics(dived)['area']}")
    for bins in core.results() + ([dived] if dived else []):
        run.offer(bins)
    run.say(f"area: elimination and dive reached {run.value()} (bound {run.bound.value})")
    return cols


def area_search(run: Run, use_colgen: bool) -> None:
    """The area-only stages after the start: elimination (homogeneous), the column-generation
    bound, cover and dive; with 2+ workers on a homogeneous library elimination runs in a
    second process beside the bound and dive. Returns early once the bound is met."""
    inst = run.inst
    colgen_ok = use_colgen and inst.n <= COLGEN_MAX_NEURONS
    homogeneous = len(inst.types) == 1
    if run.workers >= 2 and colgen_ok:
        if homogeneous:
            parallel_area_stage(run)
            return
        parallel_typed_stage(run)
        return
    share = "elimination" if colgen_ok else "elimination_only"
    if homogeneous:
        # large networks: the connected-cover bound on the second core beside the elimination
        child = (BoundChild(inst, run.budget.seconds(share), run.duals, run.value())
                 if not colgen_ok and run.workers >= 2 else None)
        eliminate_stage(run, share)
        if child is not None:
            lb, cb_info = child.result(run.value())
            run.info.update(cb_info)
            run.info["connected_bound"] = lb
            run.bound.raise_to(lb, "connected-cover")
    else:
        typed_search_stage(run, share)
    if run.closed() or not colgen_ok:
        return
    cols = bound_stage(run)
    if not run.closed():
        cover_stage(run, cols)
    if not run.closed() and homogeneous:
        dive_stage(run, cols)


def lns_stage(run: Run, share: str | None) -> None:
    """LNS (lns.py) for `budget.seconds(share)` (the whole stage when None). A packets stage
    spends `shares.packets_warm` of it on global routes first unless it starts from a
    global-routes mapping (from the area mapping the packet search alone stalled: preset A
    1,106 packets after 15 s and after 45 s, where global-routes mappings have 1,081-1,127).
    The LNS keeps no-worse moves only, so the result never has more packets than its start."""
    inst, budget, st = run.inst, run.budget, run.objective
    t_lns = budget.seconds(share) if share else budget.stage_left()
    det_share = getattr(budget.shares, share) if share else 1.0
    area_cap = run.caps.get("area")
    if st == "packets" and not run.global_start:
        warm_share = budget.shares.packets_warm
        warm, det = lns(inst, run.incumbent.bins, ("global",), time_limit=t_lns * warm_share,
                        workers=run.workers, seed=_lns_seed(run), deterministic_limit=_times(budget.det(det_share), warm_share),
                        area_cap=area_cap)
        budget.spend(det)
        run.offer(warm)
        t_lns *= 1 - warm_share
        det_share *= 1 - warm_share
    primary = run.incumbent.primary == st

    def mark(t: float, sc: tuple[float, ...]) -> None:
        if primary:
            run.incumbent.note(t, sc[0])

    bins, det = lns(inst, run.incumbent.bins, (st,), time_limit=t_lns, workers=run.workers, seed=_lns_seed(run),
                    deterministic_limit=budget.det(det_share), target=(run.bound.value,),
                    packet_scale=run.packet_scale, log=mark, area_cap=area_cap)
    budget.spend(det)
    run.incumbent.offer(bins, st, run.caps, ties=True)  # LNS keeps no-worse moves (tie-breakers)
    run.say(f"{st}: LNS reached {run.value()} (bound {run.bound.value})")


def _lns_seed(run: Run) -> int:
    return run.seed + len(run.objectives) - 1  # one seed per lexicographic stage


def _times(x: float | None, f: float) -> float | None:
    return None if x is None else x * f


def slots_for(inst: Instance, bins: list[Bin], caps: dict[str, float]) -> tuple[list[int], bool]:
    """Slot types for the full model, and whether they are complete (no better mapping is
    excluded, so the solver's bound is a valid bound)."""
    slots: list[int] = []
    area_cap = caps.get("area")
    used = [0] * len(inst.types)
    for b in bins:
        used[b.type] += 1
    if area_cap is not None:
        for t, ct in enumerate(inst.types):
            k = min(sum(1 for f in inst.fanin if f <= ct.inputs), int(area_cap // ct.cost))
            if ct.count is not None:
                k = min(k, ct.count)
            slots += [t] * k
        return slots, True
    # no area cap (routes-only objectives): keep the model small, as many as used + 2
    for t, ct in enumerate(inst.types):
        k = used[t] + 2
        if ct.count is not None:
            k = min(k, ct.count)
        slots += [t] * k
    return slots, False


def full_model_fits(inst: Instance, bins: list[Bin], caps: dict[str, float]) -> bool:
    """The full slot model has at most MAX_FULL_MODEL_CELLS neuron-slot pairs."""
    slots, _ = slots_for(inst, bins, caps)
    cells = sum(sum(1 for f in inst.fanin if f <= inst.types[t].inputs) for t in slots)
    return cells <= MAX_FULL_MODEL_CELLS


def cpsat_stage(run: Run, det_share: float) -> None:
    """The full CP-SAT slot model with the incumbent as hint, the objective between the
    bound and the incumbent, the earlier stages' values fixed; until the stage ends. Its
    bound counts when the slots are complete and the earlier stages were optimal."""
    inst, st = run.inst, run.objective
    value = run.value()
    caps = dict(run.caps)
    if st == "area":
        caps["area"] = value
    slots, complete = slots_for(inst, run.incumbent.bins, caps)
    sm = SlotModel(inst, list(range(inst.n)), slots, run.objectives, run.packet_scale)
    sm.hint(run.incumbent.bins)
    fixed = [(sm.exprs[s], int(run.caps[s])) for s in run.objectives[:-1] if s != "packets"]
    exact = st != "packets"
    out = sm.solve(sm.exprs[st], run.budget.stage_left(), run.workers, run.seed,
                   lower=int(run.bound.value) if exact else None, deterministic_limit=run.budget.det(det_share),
                   upper=int(value) if exact else None, fixed=fixed)
    run.budget.spend(out.deterministic_time)
    run.offer(out.bins)
    value = run.value()
    if complete and out.bound is not None and run.trust_solver:
        solver_lb = out.bound / run.packet_scale if not exact else out.bound
        run.info[f"solver_{st}"] = solver_lb
        run.bound.raise_to(math.ceil(solver_lb - 1e-6) if exact else solver_lb, "cp-sat")
    if out.status == "OPTIMAL" and (complete or value <= run.bound.value):
        run.status = "OPTIMAL"
    elif out.status == "INFEASIBLE" and complete:
        run.status = "OPTIMAL"  # nothing beats the incumbent (the upper limit was the incumbent)
        run.bound.raise_to(value, "cp-sat")
    run.say(f"{st}: CP-SAT {out.status} value {value} bound {run.bound.value}")


class SecondCore:
    """The second process of a 2-worker area stage (homogeneous library): crossbar
    elimination (repack.py) first; once that has not improved for `stall` s, a price-and-dive
    over the columns generated so far instead (`offer_columns`), exploring other dives than
    the parent's. Preset D: the elimination stays at 19 from 4 s on, dives reach 18. Areas
    and bounds in cells."""

    def __init__(self, inst: Instance, bins: list[Bin], t_end: float, seed: int, lb: float,
                 say: Callable[[str], None], stall: float) -> None:
        self.inst, self.t_end, self.seed, self.lb, self.say, self.stall = inst, t_end, seed, lb, say, stall
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

    def offer_columns(self, columns: list[Column]) -> None:
        """Switch to the dive when the elimination has stalled above the bound."""
        bg = self.bg
        if self.diving or bg.proc is None or bg.stalled() < self.stall or self.area() <= self.lb:
            return
        bg.cancel()
        self.found.append(bg.result())
        self.say(f"area: elimination stalled at {len(self.found[-1])} crossbars; a second dive instead")
        self.bg = background_dive(self.inst, columns, self.found[-1], self.lb, self.t_end, self.seed + 1)
        self.diving = True

    def results(self) -> list[list[Bin]]:
        """Every mapping it found (waits for the child)."""
        return self.found + [self.bg.result()]
