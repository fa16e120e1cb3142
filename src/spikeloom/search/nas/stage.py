"""The architecture search as a stage of `spikeloom run`: a small NAS on the run's dataset,
trained like the run's models, whose neuron dimensions default to the run's grid."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spikeloom.errors import ConfigError
from spikeloom.search.config import SearchConfig
from spikeloom.search.nas.fidelity import FidelityConfig
from spikeloom.search.nas.objectives import EvalSettings, parse_objectives
from spikeloom.search.nas.space import NasSpace, load_space, space_from_dict
from spikeloom.search.nas.strategies import STRATEGIES
from spikeloom.search.nas.study import NasConfig
from spikeloom.spec import Spec


@dataclass(frozen=True)
class NasStage(Spec):
    """trials: NAS trials after the hyperparameter search (0 = no NAS); space: a space file
    (None = the default space with the run's timesteps, thresholds and beta)."""

    trials: int = 0
    strategy: str = "tpe"
    fidelity: str = "full"
    objectives: str = "accuracy,energy,area"
    space: str | None = None
    map_time_limit: float = 0.3

    def __post_init__(self) -> None:
        if self.trials < 0:
            raise ConfigError(f"--nas-trials must be >= 0, got {self.trials}")
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"unknown --nas-strategy {self.strategy!r}; choose one of {', '.join(STRATEGIES)}")
        if not self.map_time_limit > 0:
            raise ConfigError(f"the mapping time limit must be > 0, got {self.map_time_limit}")

    @property
    def enabled(self) -> bool:
        return self.trials > 0


def run_space(scfg: SearchConfig, space_file: str | Path | None) -> NasSpace:
    """The space file's space, or the default space around the run's neuron grid."""
    if space_file is not None:
        return load_space(space_file)
    return space_from_dict({"timesteps": list(scfg.timesteps), "threshold": list(scfg.thresholds),
                            "beta": [scfg.beta]}, "the run's NAS space")


def nas_config(scfg: SearchConfig, stage: NasStage) -> NasConfig:
    """The NasConfig of the run's NAS stage: same dataset, epochs, batch size, learning rate
    (and schedule), training subset, bit error rate and seed as the run's search. Validates
    everything (ConfigError), so the CLI can call it before writing anything."""
    settings = EvalSettings(epochs=scfg.epochs, batch_size=scfg.batch_size, lr=scfg.lr,
                            lr_schedule=scfg.lr_schedule, train_subset=scfg.train_subset, ber=scfg.ber,
                            val_fraction=scfg.val_fraction,
                            map_time_limit=stage.map_time_limit, precision=scfg.energy_precision,
                            seed=scfg.seed)
    return NasConfig(dataset=scfg.dataset, strategy=stage.strategy, objectives=parse_objectives(stage.objectives),
                     n_trials=max(1, stage.trials), seed=scfg.seed, space=run_space(scfg, stage.space),
                     settings=settings, fidelity=FidelityConfig(kind=stage.fidelity))

