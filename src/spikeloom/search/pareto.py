"""Non-dominated sets for (accuracy up, reliability up, energy down)."""

from __future__ import annotations

from collections.abc import Sequence


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """a dominates b when a is no worse in every objective and better in one (all maximised)."""
    return all(x >= y for x, y in zip(a, b)) and any(x > y for x, y in zip(a, b))


def pareto_front(points: Sequence[tuple[str, float, float | None, float]]) -> list[str]:
    """Names of the non-dominated (name, accuracy, reliability_pct, energy_pj) points.

    A missing reliability counts as the worst possible (0 %)."""
    vecs = {name: (acc, rel if rel is not None else 0.0, -energy) for name, acc, rel, energy in points}
    return [n for n, v in vecs.items() if not any(dominates(w, v) for m, w in vecs.items() if m != n)]
