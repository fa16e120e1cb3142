"""Seeded synthetic sparse networks and the five presets A..E with the node, edge and
maximum fan-in counts of the test networks in the heterogeneous-crossbar ILP paper."""

from __future__ import annotations

import itertools

import numpy as np

from spikeloom.errors import ConfigError
from spikeloom.hw.graph import Graph

# name -> (nodes, edges, max fan-in); the paper's test networks (see DESIGN.md)
PRESETS: dict[str, tuple[int, int, int]] = {
    "A": (229, 464, 11),
    "B": (257, 464, 10),
    "C": (148, 487, 15),
    "D": (253, 499, 13),
    "E": (150, 446, 11),
}
_PRESET_SEED = {"A": 101, "B": 102, "C": 103, "D": 104, "E": 105}


def synthetic_network(n_nodes: int, n_edges: int | None = None, max_fan_in: int = 10, *,
                      sparsity: float | None = None, input_fraction: float = 0.05,
                      locality: float = 0.5, window: int = 12, seed: int = 0,
                      name: str = "synthetic") -> Graph:
    """A random directed network with exactly `n_nodes` nodes, `n_edges` edges and maximum
    fan-in `max_fan_in` (reached by at least one neuron).

    Give either `n_edges` or `sparsity` (1 - edges / (n (n - 1)), the fraction of absent
    synapses). About `input_fraction` of the nodes are inputs (fan-in 0); every other node
    has fan-in >= 1. Fan-ins are skewed (exponential weights). Each synapse's source is,
    with probability `locality`, a node within `window` positions of the target on a ring
    (clustered wiring, as trained/evolved networks show), otherwise any node.
    """
    n = int(n_nodes)
    if n < 2:
        raise ConfigError(f"a synthetic network needs at least 2 nodes, not {n}")
    if (n_edges is None) == (sparsity is None):
        raise ConfigError("give exactly one of n_edges and sparsity")
    if n_edges is None:
        if not 0.0 <= float(sparsity) < 1.0:  # type: ignore[arg-type]
            raise ConfigError(f"sparsity {sparsity} must be in [0, 1)")
        n_edges = round((1.0 - float(sparsity)) * n * (n - 1))  # type: ignore[arg-type]
    e, fmax = int(n_edges), int(max_fan_in)
    if not 0.0 <= locality <= 1.0:
        raise ConfigError(f"locality {locality} must be in [0, 1]")
    n_in = max(1, round(input_fraction * n))
    n_in = min(n_in, n - 1)
    hidden = n - n_in
    while n_in > 1 and e < hidden:  # fewer edges than neurons: more inputs
        n_in, hidden = n_in + 1, hidden - 1
    if fmax < 1 or e < hidden or e > hidden * min(fmax, n - 1) or fmax > n - 1:
        raise ConfigError(f"cannot build {n} nodes with {e} edges and max fan-in {fmax}: "
                          f"need {hidden} <= edges <= {hidden * min(fmax, n - 1)} and max fan-in < nodes")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)  # ring position -> node index
    is_input = np.zeros(n, dtype=bool)
    is_input[rng.choice(n, size=n_in, replace=False)] = True
    targets = np.flatnonzero(~is_input)
    fan = np.ones(n, dtype=int) * (~is_input)
    top = targets[rng.integers(len(targets))]
    fan[top] = fmax
    extra = e - int(fan.sum())
    pref = rng.exponential(1.0, size=n) * (~is_input)
    while extra > 0:
        room = (fan < fmax) & (~is_input)
        p = pref * room
        if p.sum() <= 0:
            p = room.astype(float)
        k = rng.choice(n, p=p / p.sum())
        fan[k] += 1
        extra -= 1
    while extra < 0:  # only when the forced max overshot: take back from the largest others
        k = max((i for i in targets if i != top and fan[i] > 1), key=lambda i: fan[i])
        fan[k] -= 1
        extra += 1
    pos = np.empty(n, dtype=int)
    pos[order] = np.arange(n)
    edges: list[tuple[str, str]] = []
    for i in targets.tolist():
        chosen: set[int] = set()
        while len(chosen) < fan[i]:
            if rng.random() < locality:
                off = int(rng.integers(-window, window + 1))
                k = int(order[(pos[i] + off) % n])
            else:
                k = int(rng.integers(n))
            if k != i:
                chosen.add(k)
        edges += [(str(k), str(i)) for k in sorted(chosen)]
    nodes = tuple(str(i) for i in range(n))
    inputs = tuple(str(i) for i in np.flatnonzero(is_input).tolist())
    has_out = {k for k, _ in edges}
    outputs = tuple(str(i) for i in range(n) if str(i) not in has_out and not is_input[i])
    return Graph(nodes, tuple(edges), inputs, outputs, name=name)


def preset_network(name: str, seed: int | None = None) -> Graph:
    """Preset `A`..`E`: a synthetic network with the paper's node/edge/max fan-in counts."""
    key = name.strip().upper()
    if key not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    n, e, f = PRESETS[key]
    return synthetic_network(n, e, f, seed=_PRESET_SEED[key] if seed is None else seed,
                             name=f"preset-{key}")


def grid_network(side: int, layers: int = 3, radius: int = 1, keep: float = 0.8, seed: int = 0,
                 name: str = "grid") -> Graph:
    """A seeded grid-local network in the style of TENNLab's DBSCAN applications: `layers` + 1
    layers of side x side neurons (layer 0: inputs); the neuron at (r, c) of layer l >= 1 reads
    the one at (r, c) of layer l - 1 and, each with probability `keep`, the others within
    `radius` rows and columns (so fan-in <= (2 radius + 1)^2). Nodes are named "l.r.c"."""
    if side < 1 or layers < 1 or radius < 0 or not 0.0 <= keep <= 1.0:
        raise ConfigError(f"grid_network needs side >= 1, layers >= 1, radius >= 0 and keep in [0, 1], "
                          f"not side={side}, layers={layers}, radius={radius}, keep={keep}")
    rng = np.random.default_rng(seed)
    node = "{}.{}.{}".format
    cells, window = range(side), range(-radius, radius + 1)
    edges = [(node(layer - 1, r + dr, c + dc), node(layer, r, c))
             for layer, r, c, dr, dc in itertools.product(range(1, layers + 1), cells, cells, window, window)
             if r + dr in cells and c + dc in cells and ((dr, dc) == (0, 0) or rng.random() < keep)]
    nodes = tuple(node(layer, r, c) for layer in range(layers + 1) for r in range(side) for c in range(side))
    inputs = tuple(node(0, r, c) for r in range(side) for c in range(side))
    outputs = tuple(node(layers, r, c) for r in range(side) for c in range(side))
    return Graph(nodes, tuple(edges), inputs, outputs, name=name)


def dbscan_flat_network(rows: int, cols: int | None = None, name: str = "dbscan-flat") -> Graph:
    """The wiring of TENNLab's flat DBSCAN network (epsilon 1) on a rows x cols grid: per
    cell p an input I[p] and four neurons, C[p] reading the inputs of p's 8-neighbourhood,
    Core[p] reading I[p] and C[p], B[p] reading the Cores of p's 8-neighbourhood and
    Border[p] reading I[p], Core[p] and B[p]. Outputs: Core and Border. Node names as
    TENNLab's ("Core[r][c]"); 22 x 22 gives exactly the edges of
    dbscan_flat_full_22_22_1_4.json. Thresholds and delays are left out (the mapper reads
    only the wiring)."""
    cols = rows if cols is None else cols
    if rows < 1 or cols < 1:
        raise ConfigError(f"dbscan_flat_network needs rows, cols >= 1, not {rows} x {cols}")
    cells = list(itertools.product(range(rows), range(cols)))

    def at(kind: str, r: int, c: int) -> str:
        return f"{kind}[{r}][{c}]"

    def around(r: int, c: int) -> list[tuple[int, int]]:
        return [(r + dr, c + dc) for dr, dc in itertools.product((-1, 0, 1), repeat=2)
                if (dr, dc) != (0, 0) and 0 <= r + dr < rows and 0 <= c + dc < cols]

    edges: list[tuple[str, str]] = []
    for r, c in cells:
        edges += [(at("I", *q), at("C", r, c)) for q in around(r, c)]
        edges += [(at("I", r, c), at("Core", r, c)), (at("C", r, c), at("Core", r, c))]
    for r, c in cells:
        edges += [(at("Core", *q), at("B", r, c)) for q in around(r, c)]
        edges += [(at(k, r, c), at("Border", r, c)) for k in ("I", "Core", "B")]
    nodes = tuple(at(k, r, c) for k in ("I", "C", "Core", "B", "Border") for r, c in cells)
    inputs = tuple(at("I", r, c) for r, c in cells)
    outputs = tuple(at(k, r, c) for k in ("Core", "Border") for r, c in cells)
    return Graph(nodes, tuple(edges), inputs, outputs, name=name)
