"""Which side of the TENNLab gap is loose: hand-built structured mappings of the two DBSCAN
networks whose layer structure is regular, re-checked by the independent checker, next to
the source-cover bound (a diagnostic, not a mapper: the rules below read the layer and grid
position off TENNLab's node numbering).

    python benchmarks/tennlab_structured.py [--tennlab-dir DIR]

- dbscan_systolic_346_2_4 (32x32): 13 layers of 346 positions on a line; layer 5 (and 11)
  reads a window of 5 positions in layers 0-4 (6-10). Positions in pairs: one crossbar holds
  layers 0-6 of a pair (two windows: 30 axons, plus layer 5's two outputs read by layer 6),
  one layers 7-11, and layer 12 (3 private inputs each) goes ten to a crossbar.
- dbscan_flat_full_22_22_1_4 (16x16): 5 layers on a 22 x 22 grid; layer 1 (and 3) reads the
  8 neighbours in layer 0 (2). Positions in 2 x 2 blocks: one crossbar holds layers 0-1 of a
  block (a 4 x 4 patch: 16 axons), one layer 3, and layers 2 and 4 (4 inputs per position)
  go four positions to a crossbar.

The last line is a JSON object.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from spikeloom.hw import check_mapping, load_network, parse_library
from spikeloom.hw.instance import Instance
from spikeloom.hw.source_bound import source_cover_bound

TENNLAB_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "tennlab"


def systolic_key(node: int) -> tuple:
    layer, pos = divmod(node, 346)
    if layer <= 6:
        return "a", pos // 2
    return ("b", pos // 2) if layer <= 11 else ("c", pos // 10)


def flat_key(node: int, width: int = 22) -> tuple:
    layer, pos = divmod(node, width * width)
    row, col = divmod(pos, width)
    if layer <= 1:
        return "a", row // 2, col // 2
    return ("b", row // 2, col // 2) if layer == 3 else ("c", pos // 4)


def structured(path: Path, size: int, key) -> dict:
    g = load_network(path)
    lib = parse_library(f"homogeneous:{size}x{size}")
    fan = g.fan_in
    groups: dict[tuple, list[str]] = defaultdict(list)
    for n in g.nodes:
        groups[key(int(n))].append(n)
    xbars = [{"id": k, "type": lib.types[0].name, "inputs": size, "outputs": size, "cost": size * size,
              "neurons": ns, "axons": sorted({s for n in ns for s in fan[n]})}
             for k, ns in enumerate(groups[x] for x in sorted(groups))]
    mapping = {"crossbars": xbars, "assignment": {n: x["id"] for x in xbars for n in x["neurons"]}}
    rep = check_mapping(g, lib, mapping)
    lb, _, info = source_cover_bound(Instance(g, lib), time_limit=60.0)
    return {"net": path.name, "crossbars": rep.crossbars_used, "valid": rep.valid,
            "source_cover_lb_crossbars": lb / (size * size), "source_block_size": info["source_block_size"],
            "gap_to_bound": round(rep.crossbars_used / (lb / (size * size)) - 1, 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tennlab-dir", default=str(TENNLAB_DIR))
    args = ap.parse_args()
    d = Path(args.tennlab_dir)
    rows = [structured(d / "dbscan_systolic_346_2_4.json", 32, systolic_key),
            structured(d / "dbscan_flat_full_22_22_1_4.json", 16, flat_key)]
    for r in rows:
        print(f"{r['net']}: {r['crossbars']} crossbars (valid {r['valid']}), source-cover bound "
              f"{r['source_cover_lb_crossbars']:g} (blocks of {r['source_block_size']}), gap {r['gap_to_bound']:.1%}")
    print(json.dumps({"structured": rows}))


if __name__ == "__main__":
    main()
