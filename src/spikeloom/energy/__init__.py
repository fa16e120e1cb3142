"""Operation counts (ANN MACs, SNN spike-driven accumulates) and energy per inference."""

from __future__ import annotations

from spikeloom.energy.estimate import (
    EnergyReport,
    energy_from_counts,
    energy_ratio,
)
from spikeloom.energy.tables import (
    PRECISIONS,
    TABLE_45NM,
    default_table,
    load_table,
    normalize_table,
)

__all__ = ["PRECISIONS", "TABLE_45NM", "EnergyReport", "default_table", "energy_from_counts",
           "energy_ratio", "load_table", "normalize_table"]
