"""The mapper's stages one at a time (stages.py), the Budget that times them and the shared
incumbent and bound, against hand-computed times and enumerated optima."""

from __future__ import annotations

from dataclasses import replace

import pytest

from spikeloom.hw import check_mapping, map_network, parse_library, synthetic_network
from spikeloom.hw.bounds import area_bound
from spikeloom.hw.budget import Budget, Shares
from spikeloom.hw.heuristic import construct
from spikeloom.hw.incumbent import Bound, Incumbent
from spikeloom.hw.instance import Bin, Instance
from spikeloom.hw.stages import Run, bound_stage, cpsat_stage, eliminate_stage, lns_stage

from .test_mapping import brute_force


class Clock:
    """A hand-driven clock for Budget."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_budget_splits_stages_and_steps_by_its_shares():
    clock = Clock()
    b = Budget(60.0, deterministic=10.0, shares=Shares(stage=0.5, colgen=0.7, cover_max_s=5.0, cover=0.5),
               clock=clock)
    b.open_stage(last=False)  # half of the 60 s left
    assert b.stage_left() == pytest.approx(30.0)
    assert b.seconds("colgen") == pytest.approx(21.0)  # 0.7 of 30
    assert b.det(0.3) == pytest.approx(1.5)  # 0.3 of half of 10
    clock.t += 20.0  # 10 s left in the stage
    assert b.seconds("cover", cap=5.0) == pytest.approx(5.0)  # 0.5 of 10, capped at 5
    assert b.until("colgen") == pytest.approx(clock.t + 7.0)
    b.spend(4.0)
    clock.t += 10.0  # the stage is over: steps still get min_step_s
    assert b.seconds("colgen") == pytest.approx(b.shares.min_step_s)
    b.open_stage(last=True)  # the last stage gets the whole 30 s left and the 6 det units left
    assert b.stage_left() == pytest.approx(30.0) and b.left() == pytest.approx(30.0)
    assert b.det(1.0) == pytest.approx(6.0)
    assert b.elapsed() == pytest.approx(30.0)


def test_bound_keeps_the_higher_value_and_its_source():
    bd = Bound(48.0)
    assert bd.source == "counting"
    assert not bd.raise_to(48.0, "colgen")  # a tie keeps the earlier source
    assert bd.raise_to(64.0, "colgen") and (bd.value, bd.source) == (64.0, "colgen")
    assert not bd.raise_to(60.0, "cp-sat") and bd.source == "colgen"


def test_incumbent_takes_only_valid_better_mappings_within_caps():
    g = synthetic_network(9, 16, 4, seed=0, locality=0.3)
    inst = Instance(g, parse_library("homogeneous:4x4"))
    singles = [Bin(0, (p,)) for p in range(inst.n)]
    inc = Incumbent(inst, singles, "area", t0=0.0)
    assert not inc.offer([Bin(0, tuple(range(inst.n)))], "area")  # 9 neurons on one 4x4: invalid
    better = construct(inst)
    assert inc.offer(better, "area", now=1.5) and inc.bins == better
    assert inc.history == [(1.5, inst.metrics(better)["area"])]
    assert not inc.offer(singles, "area")  # worse
    assert not inc.offer(list(better), "area")  # a tie needs ties=True
    assert inc.offer(list(reversed(better)), "area", ties=True)
    # a mapping better in global routes but above the area cap of an earlier stage is refused
    assert not inc.offer(singles, "global", caps={"area": inst.metrics(better)["area"]})


def _run(inst: Instance, bins: list[Bin], objectives=("area",), seconds: float = 10.0, workers: int = 1) -> Run:
    budget = Budget(seconds)
    budget.open_stage(last=True)
    st = objectives[-1]
    return Run(inst, tuple(objectives), Incumbent(inst, bins, objectives[0], budget.t0),
               Bound(area_bound(inst) if st == "area" else 0.0), budget, workers=workers, seed=0)


# (seed, optimum in 4x4 crossbars) of synthetic_network(9, 16, 4, seed, locality=0.3), by enumeration
SMALL = [(seed, opt) for seed, opt in enumerate([3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 4, 3])]


@pytest.mark.parametrize(("seed", "opt"), [SMALL[0], SMALL[9]])
def test_bound_stage_alone_names_colgen_where_it_beats_counting(seed, opt):
    g = synthetic_network(9, 16, 4, seed=seed, locality=0.3)
    inst = Instance(g, parse_library("homogeneous:4x4"))
    run = _run(inst, construct(inst))
    cols = bound_stage(run)
    assert cols and all(inst.fits(t, ns) for t, ns in cols)
    assert run.bound.value <= 16 * opt == brute_force(g, [(4, 4, 16)])[0]
    if seed == 9:  # counting says 3 crossbars, the LP proves 4
        assert (run.bound.value, run.bound.source) == (64, "colgen")
        assert run.info["colgen_bound"] == 64


@pytest.mark.parametrize(("seed", "opt"), SMALL[:4])
def test_eliminate_stage_alone_reaches_the_enumerated_optimum(seed, opt):
    g = synthetic_network(9, 16, 4, seed=seed, locality=0.3)
    inst = Instance(g, parse_library("homogeneous:4x4"))
    run = _run(inst, [Bin(0, (p,)) for p in range(inst.n)], seconds=5.0)
    eliminate_stage(run, "elimination_only")
    assert run.value() == 16 * opt and run.closed() == (opt == 3)


@pytest.mark.parametrize(("seed", "opt"), [SMALL[9], SMALL[10]])
def test_cpsat_stage_alone_proves_the_enumerated_optimum(seed, opt):
    """From singletons, the full model finds the optimum and proves it (bound from CP-SAT,
    not from counting, which says 3 crossbars here)."""
    g = synthetic_network(9, 16, 4, seed=seed, locality=0.3)
    lib = parse_library("homogeneous:4x4")
    inst = Instance(g, lib)
    run = _run(inst, [Bin(0, (p,)) for p in range(inst.n)], workers=2)
    cpsat_stage(run, det_share=1.0)
    rep = run.report()
    assert (rep.value, rep.lower_bound, rep.status, rep.bound_source) == (16 * opt, 16 * opt, "OPTIMAL", "cp-sat")


def test_lns_stage_alone_never_worsens_and_keeps_the_area_cap():
    """A global-routes stage after area: the LNS keeps the area of the start mapping and does
    not raise its global routes; the enumerated optimum of global routes at minimum area
    bounds it from below."""
    g = synthetic_network(9, 16, 4, seed=2, locality=0.3)
    lib = parse_library("homogeneous:4x4")
    inst = Instance(g, lib)
    start = map_network(g, lib, time_limit=3, workers=1)
    bins = [Bin(0, tuple(sorted(inst.placed.index(inst.node_ids.index(n)) for n in x.neurons)))
            for x in start.crossbars]
    assert inst.metrics(bins)["area"] == start.area
    run = _run(inst, bins, objectives=("area", "global"), seconds=3.0)
    run.caps["area"] = start.area
    lns_stage(run, None)
    m = inst.metrics(run.incumbent.bins)
    assert m["area"] == start.area and m["global"] <= start.routes_global
    assert m["global"] >= brute_force(g, [(4, 4, 16)])[2]


def test_summary_names_its_bound_source():
    """seed 9: counting says 3 crossbars, the optimum is 4; the written summary names the
    bound that proves it (the source-cover bound does: 52 cells, rounded up to 64)."""
    g = synthetic_network(9, 16, 4, seed=9, locality=0.3)
    lib = parse_library("homogeneous:4x4")
    res = map_network(g, lib, time_limit=10, workers=1)
    s = res.summary_dict()
    assert (s["area"], s["lower_bound"], s["status"]) == (64, 64, "OPTIMAL")
    assert s["lower_bound_source"] == "source-cover" and s["stages"][0]["lower_bound_source"] == s[
        "lower_bound_source"]
    assert s["lower_bounds"]["source_raw"] == pytest.approx(52.0)
    assert s["lower_bounds"]["area"] == 48  # counting
    assert s["gap_meaning"].endswith("so it is proven optimal.") and "area is 64 " in s["gap_meaning"]
    assert check_mapping(g, lib, res.mapping_dict()).valid
    # 40 nodes on 8x8: counting and conflict say 5 crossbars, the source cover 7, below
    # what MCC (12) and a 0.2 s search without column generation or full model (8) reach
    g = synthetic_network(40, 90, 6, seed=0)
    lib = parse_library("homogeneous:8x8")
    mcc = map_network(g, lib, method="mcc", time_limit=1).summary_dict()
    assert mcc["lower_bound_source"] == "source-cover" and mcc["lower_bound"] == 7 * 64
    assert mcc["lower_bounds"]["area"] == mcc["lower_bounds"]["conflict_area"] == 5 * 64
    assert mcc["gap"] > 0 and mcc["gap_meaning"].endswith("so the mapping is loose.")
    short = map_network(g, lib, time_limit=0.2, workers=1, use_colgen=False, full_model=False)
    assert short.gap > 0 and short.lower_bound_source == "source-cover"
    assert "may be the loose side" in short.gap_meaning()


def test_gap_meaning_says_no_lp_bound_can_prove_more_once_the_bound_meets_the_lp():
    g = synthetic_network(8, 14, 5, seed=0, locality=0.4)
    r = map_network(g, parse_library("table2"), time_limit=3, workers=1)
    lb = {**r.lower_bounds, "colgen_lp_value": 95.3, "colgen_lp_met": 1.0}
    stages = (replace(r.stages[0], bound_source="colgen"), *r.stages[1:])
    above = replace(r, area=r.lower_bound + 16, gap=16 / r.lower_bound, lower_bounds=lb, stages=stages)
    assert "reached the LP relaxation (at most 95.3, rounded up), so no LP bound can prove more" in above.gap_meaning()
    short = replace(above, lower_bounds={**lb, "colgen_lp_met": 0.0})
    assert short.gap_meaning().endswith("the bound's search stopped before it converged, so both sides may be loose.")
    # a connected-cover bound names its LP's value, and the fan-ins it weighed when not all
    cc = (replace(r.stages[0], bound_source="connected-cover"), *r.stages[1:])
    conn = replace(above, stages=cc, lower_bounds={**lb, "connected_lp": 140.2, "connected_min_fanin": 2})
    assert ("certified point of an LP over the neurons of fan-in >= 2 (the others' connected sets were too many "
            "to enumerate) whose value is at most 140, so") in conn.gap_meaning()
    every = replace(conn, lower_bounds={**lb, "connected_lp": 140.2, "connected_min_fanin": 1})
    assert "certified point of an LP whose value is at most 140," in every.gap_meaning()


def test_packets_from_a_global_routes_mapping_never_get_worse():
    """area-then-packets started from an area-then-global-routes result keeps its area and
    has at most its packets (preset E once came out 2% worse when both started from the
    area mapping); the packet-aware LNS only takes no-worse moves."""
    import numpy as np

    g = synthetic_network(80, 200, 6, seed=11)
    rng = np.random.default_rng(0)
    gw = g.with_weights({n: float(x) for n, x in zip(g.nodes, rng.lognormal(1.0, 1.0, len(g.nodes)), strict=True)})
    lib = parse_library("homogeneous:8x8")
    area = map_network(gw, lib, time_limit=3, workers=1)
    lexg = map_network(gw, lib, objective="area-then-global-routes", time_limit=2, workers=1, start=area)
    before = check_mapping(gw, lib, lexg.mapping_dict()).packets
    lexp = map_network(gw, lib, objective="area-then-packets", time_limit=3, workers=1, start=lexg)
    assert lexp.valid and lexp.area == lexg.area == area.area
    assert lexp.packets <= before + 1e-9


def test_conflict_bound_against_enumeration_and_by_hand():
    """Three neurons with pairwise 5 distinct sources never share a 4x4 crossbar: the
    conflict bound says 3 crossbars (enumerated optimum), counting 2. On the small random
    networks it never exceeds the enumerated optimum. On table2, ten neurons with the same
    32 sources need 32-input crossbars with ten outputs (32x8 + 32x4 or three 32x4: 384
    cells) and two with other 32-source sets one 32x4 (128) each."""
    from spikeloom.hw import Graph
    from spikeloom.hw.bounds import conflict_bound

    ins = [f"i{k}" for k in range(1, 7)]
    g = Graph(tuple(ins) + ("a", "b", "c"),
              tuple((f"i{k}", n) for n, ks in (("a", (1, 2, 3)), ("b", (3, 4, 5)), ("c", (5, 6, 1))) for k in ks),
              tuple(ins), name="tri")
    inst = Instance(g, parse_library("homogeneous:4x4"), external_inputs=True)
    assert conflict_bound(inst) == 48 and area_bound(inst) == 32
    res = map_network(g, parse_library("homogeneous:4x4"), time_limit=5, workers=1, external_inputs=True)
    assert (res.area, res.lower_bound, res.lower_bound_source, res.status) == (48, 48, "conflict", "OPTIMAL")
    assert conflict_bound(Instance(g, parse_library("4x4,8x8"), external_inputs=True)) == 0  # 8x8 holds any two
    for seed, opt in SMALL:
        net = synthetic_network(9, 16, 4, seed=seed, locality=0.3)
        assert conflict_bound(Instance(net, parse_library("homogeneous:4x4"))) <= 16 * opt
    wide = [f"x{k}" for k in range(96)]
    edges = [(wide[k], f"o{j}") for j in range(10) for k in range(32)]
    edges += [(wide[32 + k], "p") for k in range(32)] + [(wide[64 + k], "q") for k in range(32)]
    g2 = Graph(tuple(wide) + tuple(f"o{j}" for j in range(10)) + ("p", "q"), tuple(edges), tuple(wide), name="w")
    inst2 = Instance(g2, parse_library("table2"), external_inputs=True)
    assert conflict_bound(inst2) == 384 + 128 + 128
