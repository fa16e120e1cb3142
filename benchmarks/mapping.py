"""Crossbar-mapping benchmark: presets A..E, fresh networks, real TENNLab networks
(figures for docs/results.md).

    python benchmarks/mapping.py [--suite presets,fresh,fresh-table2,tennlab,dbscan,grid] [--area-time 60]
                                 [--table2-time 30] [--lex-time 15] [--workers 2]
                                 [--fresh 10] [--real-time 300] [--tennlab-dir DIR] [--dbscan 24,23] [--grid 3]
                                 [--large 0|N] [--large-time 300]

Suites: `presets` (below); `fresh`: networks of the presets' sizes drawn with seeds
FRESH_SEED + i, never used for tuning (area only, homogeneous 16x16, `--area-time`; mean
and worst gap); `fresh-table2`: the same networks on table2 (`--table2-time`); `tennlab`: every network in `--tennlab-dir` (TENNLab JSON/.txt) on the
smallest square crossbar that holds its widest neuron (area only, `--real-time`), next to
MCC and the repaired hypergraph partition (`--method hypergraph`, when mtkahypar is
installed); `dbscan`: TENNLab's flat DBSCAN wiring (dbscan_flat_network) at the `--dbscan`
grid sizes (24 x 24: 2,880 nodes; 23 x 23: 2,645), fresh instances of flat_full_22's family
(20 and 21 are the dev sizes), as the tennlab suite; `grid`: `--grid` fresh grid-local networks in the style of TENNLab's DBSCAN
layers (grid_network(26, 3 layers, radius 1, keep 0.8): 2,704 nodes, fan-in <= 9, seeds
GRID_SEED + i, never used for tuning), as the tennlab suite. Every mapping is re-checked
by the independent checker.

Per preset: area with axon sharing vs the MCC baseline (homogeneous 16x16), table2 vs
homogeneous, global routes after area-then-global-routes vs the area-only mapping,
packets (seeded synthetic profile) after area-then-packets vs area-then-global-routes;
area-then-global-routes starts from the area-only mapping and area-then-packets from the
area-then-global-routes mapping (same area, `--lex-time` each for their second stage), so
the packet figure is what the packet-aware search adds to the global-routes mapping. Solver times and gaps to the best lower bound, with where the
bound comes from. The last line is a JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from spikeloom.hw import (
    check_mapping,
    dbscan_flat_network,
    grid_network,
    load_network,
    map_network,
    parse_library,
    preset_network,
    synthetic_network,
)
from spikeloom.hw.hypergraph import available as hypergraph_available
from spikeloom.hw.synthetic import PRESETS

FRESH_SEED = 7_000  # fresh networks: seeds 7000.. (presets use 101-105, tests 0-21)
GRID_SEED = 9_100  # fresh grid-local networks: seeds 9100..
TENNLAB_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "tennlab"


def profile(graph, seed: int) -> dict[str, float]:
    """Seeded synthetic spike counts: log-normal rates (a few busy neurons, many quiet)."""
    rng = np.random.default_rng(seed)
    return {n: float(round(x, 3)) for n, x in zip(graph.nodes, rng.lognormal(1.0, 1.0, len(graph.nodes)), strict=True)}


def pct(a: float, b: float) -> float:
    """How much smaller a is than b, in %."""
    return 100.0 * (b - a) / b if b else 0.0


def bound_source(r) -> str:
    """Where the reported area bound comes from (summary.json `lower_bound_source`)."""
    return r.lower_bound_source


def checked(graph, library, r) -> bool:
    """The mapping re-validated by the independent checker (and the mapper's own flag)."""
    ext = r.external_inputs
    return bool(r.valid and check_mapping(graph, library, r.mapping_dict(), external=ext).valid)


def baseline_rows(graph, library, workers: int, hg_time: float) -> dict:
    """MCC and, when mtkahypar is installed, the repaired hypergraph partition."""
    mcc = map_network(graph, library, method="mcc", time_limit=1)
    out = {"mcc_area": mcc.area, "mcc_crossbars": mcc.crossbars_used, "mcc_valid": checked(graph, library, mcc)}
    if hypergraph_available():
        hg = map_network(graph, library, method="hypergraph", time_limit=hg_time, workers=workers)
        out.update({"hypergraph_area": hg.area, "hypergraph_crossbars": hg.crossbars_used,
                    "hypergraph_valid": checked(graph, library, hg)})
    return out


def area_row(name: str, graph, library, time_limit: float, workers: int, hg_time: float, seed: int = 0) -> dict:
    """One area-only mapping next to its baselines: area, bound (and its source), gap, less
    area than MCC and than the hypergraph baseline, validity."""
    t0 = time.perf_counter()
    r = map_network(graph, library, objective="area", time_limit=time_limit, workers=workers, seed=seed)
    wall = time.perf_counter() - t0
    row = {"net": name, "nodes": len(graph.nodes), "edges": len(graph.edges), "max_fan_in": graph.max_fan_in,
           "library": library.name, "area": r.area, "crossbars": r.crossbars_used, "lower_bound": r.lower_bound,
           "lower_bound_source": r.lower_bound_source, "counting_lb": r.lower_bounds.get("area"),
           "colgen_lb": r.lower_bounds.get("colgen_bound"), "gap": round(r.gap, 4), "status": r.status,
           "seconds": round(wall, 1), "valid": checked(graph, library, r), "notes": list(r.notes)}
    row.update(baseline_rows(graph, library, workers, hg_time))
    row["less_vs_mcc_pct"] = round(pct(r.area, row["mcc_area"]), 1)
    if "hypergraph_area" in row:
        row["less_vs_hypergraph_pct"] = round(pct(r.area, row["hypergraph_area"]), 1)
    row["valid"] = row["valid"] and row["mcc_valid"] and row.get("hypergraph_valid", True)
    return row


def print_area_row(row: dict) -> None:
    hg = f"{row['hypergraph_crossbars']} ({row['less_vs_hypergraph_pct']}%)" if "hypergraph_area" in row else "-"
    print(f"| {row['net']} | {row['nodes']} | {row['library']} | {row['crossbars']} | {row['lower_bound']:g} "
          f"({row['lower_bound_source']}) | {row['gap']:.1%} | {row['mcc_crossbars']} ({row['less_vs_mcc_pct']}%) | "
          f"{hg} | {row['seconds']} | {row['valid']} |", flush=True)


AREA_HEADER = ("| net | nodes | library | ours xb | LB area (source) | gap | MCC xb (ours less) | "
               "hypergraph xb (ours less) | s | valid |\n|" + "---|" * 10)


def fresh_suite(args, library: str = "homogeneous:16x16", seconds: float | None = None) -> dict:
    """`--fresh` networks of the presets' sizes (cycling A..E), seeds FRESH_SEED + i, on
    `library` for `seconds` (default `--area-time`)."""
    lib = parse_library(library)
    keys = sorted(PRESETS)
    rows = []
    print(AREA_HEADER)
    for i in range(args.fresh):
        key = keys[i % len(keys)]
        g = preset_network(key, seed=FRESH_SEED + i)
        row = area_row(f"{key}-size seed {FRESH_SEED + i}", g, lib, seconds or args.area_time, args.workers,
                       args.hg_time)
        rows.append(row)
        print_area_row(row)
    gaps = [r["gap"] for r in rows]
    return {"rows": rows, "mean_gap": round(statistics.mean(gaps), 4) if gaps else None,
            "worst_gap": max(gaps, default=None), "within_5pct": sum(x <= 0.05 for x in gaps),
            "all_valid": all(r["valid"] for r in rows),
            "beats_hypergraph": all(r["area"] < r.get("hypergraph_area", float("inf")) for r in rows)}


def square_library(fan_in: int):
    """The smallest of 16x16, 32x32, 64x64, 128x128 that holds `fan_in` inputs."""
    for size in (16, 32, 64, 128):
        if size >= fan_in:
            return parse_library(f"homogeneous:{size}x{size}")
    raise SystemExit(f"fan-in {fan_in} above 128")


def large_suite(args, named_graphs) -> dict:
    """(name, graph) pairs on the smallest square crossbar that holds each widest neuron,
    `--real-time` s each."""
    rows = []
    print(AREA_HEADER)
    for name, g in named_graphs:
        row = area_row(name, g, square_library(g.max_fan_in), args.real_time, args.workers, args.hg_time)
        rows.append(row)
        print_area_row(row)
    return {"rows": rows, "all_valid": all(r["valid"] for r in rows),
            "worst_gap": max((r["gap"] for r in rows), default=None)}


def tennlab_suite(args) -> dict:
    """Every TENNLab network (.json/.txt) in `--tennlab-dir` of at least `--min-nodes` nodes."""
    paths = sorted(p for p in Path(args.tennlab_dir).glob("*") if p.suffix in (".json", ".txt"))
    graphs = ((p.name, load_network(p)) for p in paths)
    return large_suite(args, ((name, g) for name, g in graphs if len(g.nodes) >= args.min_nodes))


def dbscan_suite(args) -> dict:
    """TENNLab's flat DBSCAN wiring (`dbscan_flat_network`) at the `--dbscan` grid sizes, as
    the tennlab suite: fresh instances of the real flat_full_22's family (dev sizes 20, 21)."""
    sizes = [int(x) for x in args.dbscan.split(",") if x]
    return large_suite(args, ((f"dbscan flat {n}x{n}", dbscan_flat_network(n)) for n in sizes))


def grid_suite(args) -> dict:
    """`--grid` fresh grid-local networks, seeds GRID_SEED + i."""
    return large_suite(args, ((f"grid 26x26x3 seed {GRID_SEED + i}", grid_network(26, 3, seed=GRID_SEED + i))
                              for i in range(args.grid)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--area-time", type=float, default=60.0)
    ap.add_argument("--table2-time", type=float, default=30.0)
    ap.add_argument("--lex-time", type=float, default=15.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--presets", default="ABCDE")
    ap.add_argument("--suite", default="presets",
                    help="comma-separated: presets, fresh, fresh-table2, tennlab, dbscan, grid")
    ap.add_argument("--fresh", type=int, default=10, help="fresh networks (suite fresh)")
    ap.add_argument("--real-time", type=float, default=300.0, help="seconds per TENNLab or grid network")
    ap.add_argument("--grid", type=int, default=3, help="fresh grid-local networks (suite grid)")
    ap.add_argument("--dbscan", default="24,23", help="grid sizes of the dbscan suite (fresh: not 20 or 21, the dev sizes)")
    ap.add_argument("--hg-time", type=float, default=30.0, help="seconds for the hypergraph baseline")
    ap.add_argument("--tennlab-dir", default=str(TENNLAB_DIR))
    ap.add_argument("--min-nodes", type=int, default=100, help="TENNLab networks at least this large")
    ap.add_argument("--large", type=int, default=0, help="also map a synthetic network of N neurons")
    ap.add_argument("--large-time", type=float, default=300.0)
    args = ap.parse_args()
    suites = [x for x in args.suite.split(",") if x]
    unknown = set(suites) - {"presets", "fresh", "fresh-table2", "tennlab", "dbscan", "grid"}
    if unknown:
        raise SystemExit(f"unknown suite(s) {sorted(unknown)}; choose presets, fresh, fresh-table2, tennlab, dbscan, grid")
    extra = {}
    if "fresh" in suites:
        extra["fresh"] = fresh_suite(args)
        print(json.dumps({k: v for k, v in extra["fresh"].items() if k != "rows"}), flush=True)
    if "fresh-table2" in suites:  # the same fresh networks on table2 for --table2-time
        extra["fresh_table2"] = fresh_suite(args, "table2", args.table2_time)
        print(json.dumps({k: v for k, v in extra["fresh_table2"].items() if k != "rows"}), flush=True)
    if "tennlab" in suites:
        extra["tennlab"] = tennlab_suite(args)
    if "dbscan" in suites:
        extra["dbscan"] = dbscan_suite(args)
    if "grid" in suites:
        extra["grid"] = grid_suite(args)
    if "presets" not in suites:
        args.presets = ""
    h16, t2 = parse_library("homogeneous:16x16"), parse_library("table2")
    rows = []
    print("| net | MCC xb | AS xb | LB xb | gap | less area vs MCC | table2 area | LB | gap | "
          "less vs 16x16 | glob area-only | glob lex | fewer glob | pk routes | pk profile | fewer pk | s |")
    print("|" + "---|" * 17)
    for key in args.presets:
        g = preset_network(key)
        gw = g.with_weights(profile(g, seed=ord(key)))
        t0 = time.perf_counter()
        mcc = map_network(g, h16, method="mcc", time_limit=1)
        area = map_network(g, h16, objective="area", time_limit=args.area_time, workers=args.workers)
        tab = map_network(g, t2, objective="area", time_limit=args.table2_time, workers=args.workers)
        # the global-routes stage starts from the area-only mapping (its area kept as the cap),
        # the packets stage from the global-routes mapping, each with the same budget
        lexg = map_network(gw, h16, objective="area-then-global-routes", time_limit=args.lex_time,
                           workers=args.workers, start=area)
        # packets start from the global-routes mapping (same area): never more packets than it
        lexp = map_network(gw, h16, objective="area-then-packets", time_limit=args.lex_time,
                           workers=args.workers, start=lexg)
        pk_routes = check_mapping(gw, h16, lexg.mapping_dict()).packets
        ok = all(r.valid for r in (mcc, area, tab, lexg, lexp))
        row = {
            "preset": key, "nodes": len(g.nodes), "edges": len(g.edges), "max_fan_in": g.max_fan_in,
            "mcc_crossbars": mcc.crossbars_used, "area_crossbars": area.crossbars_used,
            "area": area.area, "area_lb": area.lower_bound, "area_gap": area.gap,
            "area_lb_source": bound_source(area), "counting_lb": area.lower_bounds.get("area"),
            "colgen_lb": area.lower_bounds.get("colgen_bound"), "area_status": area.status,
            "area_seconds": round(area.solver_seconds, 1),
            "less_area_vs_mcc_pct": round(pct(area.area, mcc.area), 1),
            "table2_area": tab.area, "table2_lb": tab.lower_bound, "table2_gap": tab.gap,
            "table2_lb_source": bound_source(tab), "table2_lp": tab.lower_bounds.get("colgen_lp_value"),
            "table2_lp_proven": tab.lower_bounds.get("colgen_lp_proven"),
            "table2_lp_met": tab.lower_bounds.get("colgen_lp_met"),
            "table2_by_size": tab.summary_dict()["crossbars_by_size"],
            "table2_less_vs_homogeneous_pct": round(pct(tab.area, area.area), 1),
            "global_area_only": area.routes_global, "global_lex": lexg.routes_global,
            "lex_area": lexg.area, "fewer_global_pct": round(pct(lexg.routes_global, area.routes_global), 1),
            "packets_routes_only": pk_routes, "packets_profiled": lexp.packets, "lexp_area": lexp.area,
            "packets_area_only": check_mapping(gw, h16, area.mapping_dict()).packets,
            "fewer_packets_pct": round(pct(lexp.packets or 0, pk_routes or 0), 1),
            "colgen_lp": area.lower_bounds.get("colgen_lp_value"),
            "valid": ok, "wall_seconds": round(time.perf_counter() - t0, 1),
        }
        rows.append(row)
        print(f"| {key} | {row['mcc_crossbars']} | {row['area_crossbars']} | {area.lower_bound / 256:g} "
              f"({row['area_lb_source']}) | "
              f"{area.gap:.1%} | {row['less_area_vs_mcc_pct']}% | {tab.area} | {tab.lower_bound:g} | {tab.gap:.1%} | "
              f"{row['table2_less_vs_homogeneous_pct']}% | {area.routes_global} | {lexg.routes_global} | "
              f"{row['fewer_global_pct']}% | {pk_routes:.0f} | {lexp.packets:.0f} | {row['fewer_packets_pct']}% | "
              f"{row['wall_seconds']} |", flush=True)
    large = None
    if args.large:
        n = args.large
        g = synthetic_network(n, 2 * n, 12, seed=7, name=f"synthetic-{n}")
        t1 = time.perf_counter()
        r = map_network(g, h16, objective="area", time_limit=args.large_time, workers=args.workers)
        wall = time.perf_counter() - t1
        m = map_network(g, h16, method="mcc", time_limit=1)
        large = {"nodes": n, "edges": 2 * n, "crossbars": r.crossbars_used, "mcc_crossbars": m.crossbars_used,
                 "lower_bound_crossbars": r.lower_bound / 256, "lower_bound_source": bound_source(r),
                 "counting_lb_crossbars": r.lower_bounds.get("area", 0) / 256,
                 "colgen_lb_crossbars": (r.lower_bounds.get("colgen_bound") or 0) / 256, "gap": r.gap,
                 "wall_seconds": round(wall, 1),
                 "seconds": round(r.solver_seconds, 1), "valid": r.valid, "notes": list(r.notes)}
        print(f"large: {json.dumps(large)}", flush=True)
    for r in rows:
        print(json.dumps(r))

    def rng_(k: str) -> list[float]:
        v = [r[k] for r in rows]
        return [min(v), max(v)] if v else []

    final = {
        "less_area_vs_mcc_pct": rng_("less_area_vs_mcc_pct"),
        "table2_less_vs_homogeneous_pct": rng_("table2_less_vs_homogeneous_pct"),
        "fewer_global_routes_pct": rng_("fewer_global_pct"),
        "fewer_packets_pct": rng_("fewer_packets_pct"),
        "area_gap": rng_("area_gap"), "table2_gap": rng_("table2_gap"),
        "table2_lb_sources": {r["preset"]: r["table2_lb_source"] for r in rows},
        "within_5pct_of_bound": sum(r["area_gap"] <= 0.05 for r in rows),
        "area_lb_sources": {r["preset"]: r["area_lb_source"] for r in rows},
        "mean_area_gap": statistics.mean(r["area_gap"] for r in rows) if rows else None,
        "all_valid": all(r["valid"] for r in rows), "large": large, **extra,
        "settings": {"area_time": args.area_time, "table2_time": args.table2_time,
                     "lex_time": args.lex_time, "workers": args.workers},
    }
    print(json.dumps(final))


if __name__ == "__main__":
    main()
