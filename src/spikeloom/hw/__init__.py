"""Crossbar mapping of spiking networks (no PyTorch here: numpy, stdlib, OR-Tools lazily).

    from spikeloom.hw import preset_network, parse_library, map_network
    result = map_network(preset_network("A"), parse_library("homogeneous:16x16"), time_limit=60)
"""

from __future__ import annotations

from spikeloom.hw.checker import CheckReport, check_mapping
from spikeloom.hw.crossbars import CrossbarLibrary, CrossbarType, load_library_file, parse_library
from spikeloom.hw.graph import Graph
from spikeloom.hw.importers import (
    graph_from_nir,
    graph_from_tennlab,
    graph_from_weights,
    load_edge_csv,
    load_network,
    load_nir,
    load_profile,
    load_tennlab,
)
from spikeloom.hw.instance import OBJECTIVES
from spikeloom.hw.mapper import METHODS, map_network
from spikeloom.hw.result import MappedCrossbar, MappingResult, StageReport
from spikeloom.hw.synthetic import (
    PRESETS,
    dbscan_flat_network,
    grid_network,
    preset_network,
    synthetic_network,
)


def plot_usage(result: MappingResult, path: str) -> str:
    """Save a PNG of crossbar usage (sizes chosen, input and output fill); needs matplotlib."""
    from spikeloom.hw.plot import plot_usage as _plot

    return _plot(result, path)


__all__ = [
    "OBJECTIVES", "METHODS", "PRESETS", "CheckReport", "CrossbarLibrary", "CrossbarType", "Graph",
    "MappedCrossbar", "MappingResult", "StageReport", "check_mapping", "graph_from_nir",
    "graph_from_tennlab", "graph_from_weights", "load_edge_csv", "load_library_file",
    "load_network", "load_nir", "load_profile", "load_tennlab", "map_network", "parse_library",
    "dbscan_flat_network", "grid_network", "plot_usage", "preset_network", "synthetic_network",
]
