"""Which side of the TENNLab gap is loose: hand-built structured mappings of the two DBSCAN
networks whose layer structure is regular, re-checked by the independent checker, next to
the source-cover bound (a diagnostic, not a mapper: the rules below read the layer and grid
position off TENNLab's node numbering).

    python benchmarks/tennlab_structured.py [--tennlab-dir DIR] [--flat-sizes 20,24] [--bound-time 60]

- dbscan_systolic_346_2_4 (32x32): 13 layers of 346 positions on a line; layer 5 (and 11)
  reads a window of 5 positions in layers 0-4 (6-10). Positions in pairs: one crossbar holds
  layers 0-6 of a pair (two windows: 30 axons, plus layer 5's two outputs read by layer 6),
  one layers 7-11, and layer 12 (3 private inputs each) goes ten to a crossbar.
- dbscan_flat_full_22_22_1_4 (16x16): 5 layers on a 22 x 22 grid; layer 1 (and 3) reads the
  8 neighbours in layer 0 (2). Layer 1 (and 3) is tiled with blocks whose neighbourhoods
  are 4 x 4 patches (16 axons): 3 x 3 in the corners, 3 x 2 along the edges (the bands of
  the 3 outer rows and columns) and 2 x 2 inside; layers 2 and 4 (4 axons per position: its
  input, layer-1 and layer-3 neurons and its own layer-2 neuron) go four positions to a
  crossbar, with the four inputs (layer 0, no axons) on spare outputs.

The last line is a JSON object.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from spikeloom.hw import Graph, check_mapping, dbscan_flat_network, load_network, parse_library
from spikeloom.hw.instance import Instance
from spikeloom.hw.source_bound import source_cover_bound

TENNLAB_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "tennlab"


def systolic_key(node: str) -> tuple:
    layer, pos = divmod(int(node), 346)
    if layer <= 6:
        return "a", pos // 2
    return ("b", pos // 2) if layer <= 11 else ("c", pos // 10)


FLAT_KINDS = ("I", "C", "Core", "B", "Border")  # layers 0-4 of the flat network


def flat_key(node: str, width: int = 22) -> tuple:
    """The crossbar of a node of the flat network: TENNLab's node number, or a
    `dbscan_flat_network` name such as "Core[3][4]"."""
    if node.isdigit():
        layer, pos = divmod(int(node), width * width)
        row, col = divmod(pos, width)
    else:
        kind, row, col = node.replace("]", "").split("[")
        layer, row, col = FLAT_KINDS.index(kind), int(row), int(col)
        pos = row * width + col

    def band(x: int) -> tuple:  # the outer 3 rows (columns) at each side, else a pair inside
        return ("low",) if x < 3 else ("high",) if x >= width - 3 else ("inside", (x - 3) // 2)

    if layer in (1, 3):
        return f"layer {layer}", band(row), band(col)
    return "rest", pos // 4


def structured(g: Graph, name: str, size: int, key, bound_time: float) -> dict:
    lib = parse_library(f"homogeneous:{size}x{size}")
    fan = g.fan_in
    groups: dict[tuple, list[str]] = defaultdict(list)
    for n in g.nodes:
        groups[key(n)].append(n)
    xbars = [{"id": k, "type": lib.types[0].name, "inputs": size, "outputs": size, "cost": size * size,
              "neurons": ns, "axons": sorted({s for n in ns for s in fan[n]})}
             for k, ns in enumerate(groups[x] for x in sorted(groups))]
    mapping = {"crossbars": xbars, "assignment": {n: x["id"] for x in xbars for n in x["neurons"]}}
    rep = check_mapping(g, lib, mapping)
    lb, _, info = source_cover_bound(Instance(g, lib), time_limit=bound_time)
    return {"net": name, "crossbars": rep.crossbars_used, "valid": rep.valid,
            "source_cover_lb_crossbars": lb / (size * size), "source_block_size": info["source_block_size"],
            "gap_to_bound": round(rep.crossbars_used / (lb / (size * size)) - 1, 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tennlab-dir", default=str(TENNLAB_DIR))
    ap.add_argument("--flat-sizes", default="20,24",
                    help="also the flat rule on dbscan_flat_network(n) for these even n >= 6 (dev 20, fresh 24)")
    ap.add_argument("--bound-time", type=float, default=60.0, help="seconds for each source-cover bound")
    args = ap.parse_args()
    d = Path(args.tennlab_dir)
    rows = [structured(load_network(d / name), name, size, key, args.bound_time)
            for name, size, key in (("dbscan_systolic_346_2_4.json", 32, systolic_key),
                                    ("dbscan_flat_full_22_22_1_4.json", 16, flat_key))]
    for n in (int(x) for x in args.flat_sizes.split(",") if x):
        rows.append(structured(dbscan_flat_network(n), f"dbscan_flat_network({n})", 16,
                               lambda node, n=n: flat_key(node, n), args.bound_time))
    for r in rows:
        print(f"{r['net']}: {r['crossbars']} crossbars (valid {r['valid']}), source-cover bound "
              f"{r['source_cover_lb_crossbars']:g} (blocks of {r['source_block_size']}), gap {r['gap_to_bound']:.1%}")
    print(json.dumps({"structured": rows}))


if __name__ == "__main__":
    main()
