"""Re-map stored architecture-search evaluations with another mapping budget.

    python benchmarks/nas_remap.py runs/bench-nas/coexplore-fashion-mnist --time-limit 60 [KEY ...]

Reads DIR/evals/<key>-full.json and DIR/models/<key>-full/compressed.pt (written by
`spikeloom nas` / `benchmarks/nas.py`), maps the compressed network exactly as the search
does (`measure.graph.graph_from_checkpoint` + `search.nas.hardware.map_graph`: idle neurons
left out, external inputs, area then global routes) and prints, per architecture, the stored area and the new one; the last line is JSON.
Training and accuracies are untouched.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from spikeloom.measure.graph import graph_from_checkpoint
from spikeloom.search.nas.hardware import map_graph


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dir", type=Path)
    p.add_argument("keys", nargs="*", help="architecture keys (default: every full evaluation)")
    p.add_argument("--time-limit", type=float, default=60.0)
    args = p.parse_intermixed_args(argv)
    keys = args.keys or sorted(f.name.removesuffix("-full.json") for f in (args.dir / "evals").glob("*-full.json"))
    rows = []
    for key in keys:
        ev = json.loads((args.dir / "evals" / f"{key}-full.json").read_text())["evaluation"]
        graph = graph_from_checkpoint(args.dir / "models" / f"{key}-full" / "compressed.pt")
        t0 = time.perf_counter()
        cost = map_graph(graph, ev["architecture"]["library"], args.time_limit)
        row = {"key": key, "hidden": ev["architecture"]["hidden"], "sparsity": ev["architecture"]["sparsity"],
               "val_accuracy": ev["objectives"]["accuracy"],
               "stored_area": ev["objectives"]["area"], "area": cost.area, "crossbars": cost.crossbars,
               "status": cost.status, "seconds": round(time.perf_counter() - t0, 1)}
        print(row, flush=True)
        rows.append(row)
    print(json.dumps({"benchmark": "nas_remap", "time_limit": args.time_limit, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
