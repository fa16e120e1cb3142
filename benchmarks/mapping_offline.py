"""Long offline runs on presets A..E (homogeneous 16x16): how far the column-generation
bound and the crossbar elimination get with more time than the 60 s protocol.

    python benchmarks/mapping_offline.py --presets AE --bound-time 300
    python benchmarks/mapping_offline.py --presets D --elim-time 300 --seed 3

One core per run. Prints each improved bound / mapping with its time, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time

from spikeloom.hw import parse_library, preset_network
from spikeloom.hw.colgen import colgen_area_bound
from spikeloom.hw.heuristic import best_construct
from spikeloom.hw.instance import Instance
from spikeloom.hw.repack import eliminate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default="ABCDE")
    ap.add_argument("--bound-time", type=float, default=0.0, help="column generation alone for this long")
    ap.add_argument("--elim-time", type=float, default=0.0, help="crossbar elimination alone for this long")
    ap.add_argument("--seed", type=int, default=0, help="elimination seed (the start is always seed 0)")
    args = ap.parse_args()
    lib = parse_library("homogeneous:16x16")
    cost = lib.types[0].cost
    for key in args.presets:
        inst = Instance(preset_network(key), lib)
        start = best_construct(inst, 4, 0, lambda s, inst=inst: inst.metrics(s)["area"])
        row: dict[str, object] = {"preset": key, "heuristic": len(start)}
        if args.bound_time > 0:
            t0 = time.perf_counter()
            lb, info, _ = colgen_area_bound(
                inst, start, args.bound_time, 1,
                on_bound=lambda b, k=key, t0=t0: print(f"{k} bound {b / cost:g} at {time.perf_counter() - t0:.1f} s",
                                                       flush=True))
            row.update({"bound": lb / cost, "raw_bound": info.get("raw_bound", 0) / cost,
                        "lp_value": info.get("lp_value", 0) / cost, "lp_proven": bool(info.get("lp_proven")),
                        "exact_pricings": info.get("exact_pricings"), "bound_seconds": round(time.perf_counter() - t0, 1)})
        if args.elim_time > 0:
            t0 = time.perf_counter()
            bins = eliminate(inst, start, args.elim_time, seed=args.seed,
                             log=lambda b, k=key, t0=t0: print(f"{k} mapping {len(b)} at {time.perf_counter() - t0:.1f} s",
                                                               flush=True))
            row.update({"crossbars": len(bins), "valid": inst.is_valid(bins),
                        "elim_seconds": round(time.perf_counter() - t0, 1)})
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
