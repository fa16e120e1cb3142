"""SNN architecture search with crossbar hardware co-exploration (issue 7).

    from spikeloom.search.nas import NasConfig, run_nas, summarize
    result = run_nas(NasConfig(strategy="tpe", objectives=("accuracy", "energy", "area")), data, out)
    summary = summarize(result, out)

Pieces: `space` (validated search space), `strategies` (Optuna samplers), `proxy` (SAHD),
`fidelity` (low fidelity, promotion, rank correlation), `compress` (structured pruning,
mixed precision), `hardware` (crossbar mapping figures), `objectives` (the evaluator),
`hypervolume`, `study` (resumable multi-worker study), `report` (report section).
"""

from __future__ import annotations

from spikeloom.search.nas.fidelity import FIDELITIES, FidelityConfig, rank_correlation
from spikeloom.search.nas.hypervolume import hypervolume, non_dominated
from spikeloom.search.nas.objectives import (
           OBJECTIVES,
           EvalSettings,
           Evaluation,
           evaluate_architecture,
)
from spikeloom.search.nas.proxy import sahd_kernel, sahd_score
from spikeloom.search.nas.space import Architecture, NasSpace, load_space, space_from_dict
from spikeloom.search.nas.strategies import STRATEGIES
from spikeloom.search.nas.study import NasConfig, NasResult, run_nas, summarize

__all__ = ["FIDELITIES", "OBJECTIVES", "STRATEGIES", "Architecture", "EvalSettings", "Evaluation",
           "FidelityConfig", "NasConfig", "NasResult", "NasSpace", "evaluate_architecture", "hypervolume",
           "load_space", "non_dominated", "rank_correlation", "run_nas", "sahd_kernel", "sahd_score",
           "space_from_dict", "summarize"]
