"""Pareto fronts and hypervolume for any number of objectives.

Points are converted to minimisation (maximised objectives are negated), normalised by a
reference box, and the hypervolume is the Lebesgue measure of the region dominated by the
front and bounded by the reference point (exact: slicing over the last objective, HSO).
"""

from __future__ import annotations

from collections.abc import Sequence

from spikeloom.search.pareto import dominates


def as_minimization(values: Sequence[float], directions: Sequence[str]) -> tuple[float, ...]:
    """Objective values -> minimisation form (maximised ones negated)."""
    return tuple(-float(v) if d == "maximize" else float(v) for v, d in zip(values, directions))


def non_dominated(points: Sequence[Sequence[float]]) -> list[int]:
    """Indices of the points (minimisation form) that no other point dominates; of exact
    duplicates only the first is kept."""
    neg = [tuple(-v for v in p) for p in points]  # `dominates` is written for maximisation
    keep = []
    for i, p in enumerate(neg):
        if any(dominates(q, p) for j, q in enumerate(neg) if j != i):
            continue
        if any(neg[j] == p for j in keep):
            continue
        keep.append(i)
    return keep


def _hv(points: list[tuple[float, ...]], ref: tuple[float, ...]) -> float:
    if not points:
        return 0.0
    if len(ref) == 1:
        return max(0.0, ref[0] - min(p[0] for p in points))
    if len(ref) == 2:
        front = sorted(points)
        area, best_y = 0.0, ref[1]
        for x, y in front:
            if y < best_y:
                area += (ref[0] - x) * (best_y - y)
                best_y = y
        return area
    # slice along the last objective: between consecutive levels, the (d-1)-D front of the
    # points at or below the level is constant
    pts = sorted(points, key=lambda p: p[-1])
    total = 0.0
    for k, p in enumerate(pts):
        upper = pts[k + 1][-1] if k + 1 < len(pts) else ref[-1]
        depth = upper - p[-1]
        if depth > 0:
            total += depth * _hv([q[:-1] for q in pts[: k + 1]], ref[:-1])
    return total


def hypervolume(points: Sequence[Sequence[float]], ref: Sequence[float]) -> float:
    """Hypervolume of minimisation-form `points` w.r.t. reference point `ref` (points that do
    not strictly dominate `ref` in every objective contribute nothing)."""
    r = tuple(float(v) for v in ref)
    inside = [tuple(float(v) for v in p) for p in points if all(float(v) < rv for v, rv in zip(p, r))]
    front = [inside[i] for i in non_dominated(inside)]
    return _hv(front, r)


def normalized(points: Sequence[Sequence[float]], ideal: Sequence[float], nadir: Sequence[float]
               ) -> list[tuple[float, ...]]:
    """Scale minimisation-form points so that `ideal` -> 0 and `nadir` -> 1 per objective."""
    span = [max(n - i, 1e-12) for i, n in zip(ideal, nadir)]
    return [tuple((v - i) / s for v, i, s in zip(p, ideal, span)) for p in points]


def reference_box(points: Sequence[Sequence[float]], margin: float = 0.1
                  ) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(ideal, nadir) of minimisation-form points, the nadir pushed out by `margin` x range."""
    dims = len(points[0])
    lo = tuple(min(p[k] for p in points) for k in range(dims))
    hi = tuple(max(p[k] for p in points) for k in range(dims))
    return lo, tuple(h + margin * max(h - lo_k, 1e-12) for h, lo_k in zip(hi, lo))


def hypervolume_curve(points: Sequence[Sequence[float]], ideal: Sequence[float], nadir: Sequence[float]
                      ) -> list[float]:
    """Normalised hypervolume (reference point 1 per objective) of the first k points, k = 1..n,
    points in the order they were found."""
    norm = normalized(points, ideal, nadir)
    ref = (1.0,) * len(ideal)
    return [hypervolume(norm[: k + 1], ref) for k in range(len(norm))]
