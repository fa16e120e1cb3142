"""Search strategies as Optuna samplers: grid, random, evolutionary (NSGA-II) and Bayesian
(TPE or a Gaussian process). Grid enumerates the distinct architectures of the space in a
seeded order; the others sample a fixed-dimensional categorical space."""

from __future__ import annotations

from typing import Any

from spikeloom.errors import ConfigError
from spikeloom.search.nas.space import (
    MAX_GRID,
    Architecture,
    NasSpace,
    architecture_at,
    sample_architecture,
)

STRATEGIES = ("grid", "random", "evolution", "tpe", "gp")


def make_sampler(strategy: str, space: NasSpace, seed: int, n_trials: int) -> Any:
    """The Optuna sampler of `strategy`, seeded. Budgets reach NSGA-II, TPE and GP as trial
    constraints (`Trial.set_constraint`, values <= 0 feasible)."""
    import optuna  # noqa: PLC0415

    startup = max(2, min(10, n_trials // 3))
    if strategy == "grid":
        size = space.grid_size()
        if size > MAX_GRID:
            raise ConfigError(f"the space holds {size} architectures, too many for a grid search "
                              f"(at most {MAX_GRID}); shrink it or choose another --strategy")
        return optuna.samplers.GridSampler({"grid_index": list(range(size))}, seed=seed)
    if strategy == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if strategy == "evolution":
        return optuna.samplers.NSGAIISampler(population_size=max(4, min(20, n_trials // 3)), seed=seed)
    if strategy == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, n_startup_trials=startup)
    if strategy == "gp":
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup,
                                         warn_independent_sampling=False)
    raise ConfigError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")


def suggest(trial: Any, strategy: str, space: NasSpace) -> Architecture:
    """The architecture `trial` evaluates under `strategy`."""
    if strategy == "grid":
        return architecture_at(space, trial.suggest_int("grid_index", 0, space.grid_size() - 1))
    return sample_architecture(trial, space)
