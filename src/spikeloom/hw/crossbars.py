"""Crossbar library: sizes written inputs x outputs (A_j axons x N_j neurons), each with an
area cost C_j (default the memristor count A_j * N_j) and how many are available."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spikeloom.errors import ConfigError
from spikeloom.io import read_json_or_yaml

# The paper's sizes: square crossbars and multi-macro (rectangular) ones.
PAPER_SIZES: tuple[str, ...] = ("4x4", "8x8", "16x16", "32x32",
                                "8x4", "16x4", "32x4", "16x8", "32x8", "32x16")

_SIZE = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")


@dataclass(frozen=True)
class CrossbarType:
    """One crossbar size: `inputs` axons (A), `outputs` neurons (N), area `cost`, and
    `count` available (None = as many as needed)."""

    name: str
    inputs: int
    outputs: int
    cost: int
    count: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "inputs": self.inputs, "outputs": self.outputs,
                "cost": self.cost, "count": self.count}


@dataclass(frozen=True)
class CrossbarLibrary:
    types: tuple[CrossbarType, ...]
    name: str = "custom"

    def __post_init__(self) -> None:
        if not self.types:
            raise ConfigError("the crossbar library is empty; give at least one size, e.g. homogeneous:16x16")
        names = [t.name for t in self.types]
        if len(set(names)) != len(names):
            raise ConfigError("the crossbar library names a size twice; give each size once")

    @property
    def max_inputs(self) -> int:
        return max(t.inputs for t in self.types)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "types": [t.to_dict() for t in self.types]}


def crossbar_type(size: str, cost: int | None = None, count: int | None = None) -> CrossbarType:
    m = _SIZE.match(str(size))
    if not m:
        raise ConfigError(f"crossbar size {size!r} is not INPUTSxOUTPUTS (e.g. 16x16)")
    a, n = int(m.group(1)), int(m.group(2))
    if a < 1 or n < 1:
        raise ConfigError(f"crossbar size {size!r} needs at least one input and one output")
    c = a * n if cost is None else int(cost)
    if c <= 0:
        raise ConfigError(f"crossbar {size} has cost {c}; costs must be positive")
    if count is not None and int(count) < 0:
        raise ConfigError(f"crossbar {size} has count {count}; counts must be >= 0")
    return CrossbarType(f"{a}x{n}", a, n, c, None if count is None else int(count))


def _from_entries(entries: Iterable[Any], name: str) -> CrossbarLibrary:
    types = []
    for ent in entries:
        if isinstance(ent, str):
            types.append(crossbar_type(ent))
        elif isinstance(ent, Mapping):
            size = ent.get("size")
            if size is None and "inputs" in ent and "outputs" in ent:
                size = f"{ent['inputs']}x{ent['outputs']}"
            if size is None:
                raise ConfigError(f"{name}: each crossbar needs 'size' (e.g. \"16x16\") or 'inputs' and 'outputs'")
            try:
                types.append(crossbar_type(str(size), ent.get("cost"), ent.get("count")))
            except (TypeError, ValueError) as exc:
                if isinstance(exc, ConfigError):
                    raise
                raise ConfigError(f"{name}: crossbar {size}: cost and count must be integers") from None
        else:
            raise ConfigError(f"{name}: crossbar entries must be sizes like \"16x16\" or objects")
    return CrossbarLibrary(tuple(types), name=name)


def load_library_file(path: str | os.PathLike[str]) -> CrossbarLibrary:
    """JSON or YAML: a list of entries, or {"crossbars": [...]}; an entry is "AxN" or
    {"size": "AxN", "cost": C, "count": K} (cost defaults to A*N, count to unlimited)."""
    p = Path(path)
    data = read_json_or_yaml(p, "crossbar file", "use homogeneous:AxN, table2 or a JSON/YAML file")
    if isinstance(data, Mapping):
        data = data.get("crossbars")
    if not isinstance(data, list):
        raise ConfigError(f"{p.name} must hold a list of crossbars (or {{\"crossbars\": [...]}})")
    return _from_entries(data, p.name)


def parse_library(spec: str) -> CrossbarLibrary:
    """`homogeneous:AxN`, `AxN[,AxN...]`, `table2` (the paper's ten sizes) or a file path."""
    s = spec.strip()
    if s.lower() == "table2":
        return _from_entries(PAPER_SIZES, "table2")
    if s.lower().startswith("homogeneous:"):
        t = crossbar_type(s.split(":", 1)[1])
        return CrossbarLibrary((t,), name=f"homogeneous:{t.name}")
    if s and all(_SIZE.match(part) for part in s.split(",")):
        return _from_entries(s.split(","), s)
    if os.path.exists(s) or s.lower().endswith((".json", ".yaml", ".yml")):
        return load_library_file(s)
    if not s:
        raise ConfigError("the crossbar library is empty; give homogeneous:16x16, table2 or a file")
    raise ConfigError(f"unknown crossbar library {spec!r}; use homogeneous:AxN, table2 or a JSON/YAML file")


def split_dominated(types: tuple[CrossbarType, ...]) -> list[int]:
    """Indices of the sizes an area-optimal mapping never needs.

    Size t is dominated by an unlimited size u != t with at least as many inputs when
    k = ceil(N_t / N_u) crossbars of u cost no more than one of t: any crossbar of t splits
    into k crossbars of u (each takes at most N_u of its neurons; their axons are a subset of
    t's, so within A_u), at no more area. On table2 (cost A x N) every size with more than 4
    outputs is dominated by the A x 4 size (k = N / 4 copies cost exactly A x N), so
    4x4, 8x4, 16x4 and 32x4 suffice. A size is dropped only while a size dominating it is
    kept, so the kept sizes can still replace every dropped one (chains compose)."""
    kept = list(range(len(types)))
    changed = True
    while changed:
        changed = False
        for t in kept:
            a = types[t]
            if any(u != t and types[u].count is None and types[u].inputs >= a.inputs
                   and -(-a.outputs // types[u].outputs) * types[u].cost <= a.cost for u in kept):
                kept.remove(t)
                changed = True
                break
    return [t for t in range(len(types)) if t not in kept]
