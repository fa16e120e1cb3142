"""Co-design search: the staged reliability-aware search (Algorithm 1), the Optuna
multi-objective search, and architecture search (`spikeloom.search.nas`).

Import the submodules directly (`spikeloom.search.staged`, `.multiobjective`, `.nas`);
Optuna is imported only by the searches that need it.
"""

from __future__ import annotations
