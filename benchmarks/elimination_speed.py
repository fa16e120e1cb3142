"""Crossbar elimination's tabu moves per second: the compiled scan (repack_compiled.py,
numba) against the bitset reference (repack.scan_moves), from the same state, one core.

    python benchmarks/elimination_speed.py [--network FILE --size A] [--seconds 20]

The state: the constructive mapping (seed 0) with its `--drop` emptiest crossbars emptied
into the others (repack.insert_loose, pack's greedy step, no search), so that the search
keeps working. Each scan then runs the tabu search from a copy of that state for
`--seconds` (the compiled one after one warm-up call that compiles or loads the kernel). Default network: TENNLab's DBSCAN systolic (4,498 neurons, 32x32).
The last line is a JSON object with the ratio and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from pathlib import Path

from spikeloom.hw import load_network, parse_library, repack
from spikeloom.hw.heuristic import construct
from spikeloom.hw.instance import Instance

NETWORK = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "tennlab" / "dbscan_systolic_346_2_4.json"


def start_groups(inst: Instance, drop: int) -> list[list[int]]:
    """The constructive mapping without its `drop` emptiest crossbars, whose neurons go
    where repack.pack's greedy step puts them (before its search)."""
    groups = sorted((list(b.neurons) for b in construct(inst, seed=0)), key=len)
    st = repack.insert_loose(inst, groups[drop:], [p for g in groups[:drop] for p in g], random.Random(0))
    return [sorted(m) for m in st.members]


def moves_per_second(inst: Instance, groups: list[list[int]], seconds: float) -> tuple[float, int]:
    """(moves per second, overflow left) of repack._search from `groups` for `seconds`."""
    ct = inst.types[0]
    st = repack._State(inst, [list(g) for g in groups], ct.outputs, ct.inputs)
    moves = [0]
    apply = repack.apply_move

    def counted(*args, **kwargs) -> None:
        moves[0] += 1
        apply(*args, **kwargs)

    repack.apply_move = counted
    try:
        t0 = time.perf_counter()
        repack._search(st, t0 + seconds, random.Random(0), max_iters=10**9)
        elapsed = time.perf_counter() - t0
    finally:
        repack.apply_move = apply
    return moves[0] / elapsed, st.total()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--network", default=str(NETWORK))
    ap.add_argument("--size", type=int, default=32, help="homogeneous AxA crossbars")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--drop", type=int, default=20, help="crossbars emptied into the others (a state the search works on)")
    args = ap.parse_args()
    inst = Instance(load_network(Path(args.network)), parse_library(f"homogeneous:{args.size}x{args.size}"))
    groups = start_groups(inst, args.drop)
    from spikeloom.hw.repack_compiled import CompiledScan  # needs the extra `fast`

    ct = inst.types[0]
    CompiledScan(inst, [set(g) for g in groups], ct.outputs, ct.inputs)(
        [1] * len(groups), 1, 0, 0)  # compile or load the kernel outside the timing
    compiled, left_c = moves_per_second(inst, groups, args.seconds)
    compiled_module = sys.modules.pop("spikeloom.hw.repack_compiled")
    sys.modules["spikeloom.hw.repack_compiled"] = None  # the import fails: the reference scan, as without numba
    try:
        reference, left_r = moves_per_second(inst, groups, args.seconds)
    finally:
        sys.modules["spikeloom.hw.repack_compiled"] = compiled_module
    print(f"{Path(args.network).name}: {len(groups)} crossbars, compiled {compiled:.0f} moves/s "
          f"(overflow left {left_c}), reference {reference:.1f} moves/s (overflow left {left_r})")
    print(json.dumps({"network": Path(args.network).name, "crossbars": len(groups), "seconds": args.seconds,
                      "dropped": args.drop,
                      "compiled_moves_per_s": round(compiled, 1), "reference_moves_per_s": round(reference, 1),
                      "speedup": round(compiled / reference, 1),
                      "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"}))


if __name__ == "__main__":
    main()
