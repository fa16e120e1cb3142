"""Per-operation energy tables (pJ per operation).

Default: the 45 nm CMOS figures (Horowitz, ISSCC 2014) used by the reliability-aware
ANN-to-SNN paper, integer / floating-point column: ADD 0.1/0.9, MUL 3.1/3.7, ACC 0.1/0.9,
MAC 3.2/4.6. The ANN pays one MAC per synapse, the SNN one ACC per delivered spike.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from spikeloom.errors import ConfigError
from spikeloom.io import read_json_or_yaml

PRECISIONS = ("int", "fp")
OPS = ("ADD", "MUL", "ACC", "MAC")
REQUIRED = ("ACC", "MAC")
TABLE_45NM: dict[str, dict[str, float]] = {
    "int": {"ADD": 0.1, "MUL": 3.1, "ACC": 0.1, "MAC": 3.2},
    "fp": {"ADD": 0.9, "MUL": 3.7, "ACC": 0.9, "MAC": 4.6},
}


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    return precision


def _column(data: Any, where: str) -> dict[str, float]:
    if not isinstance(data, dict):
        raise ConfigError(f"energy table {where}: expected a mapping of operation -> pJ, e.g. "
                          '{"MAC": 3.2, "ACC": 0.1}')
    out: dict[str, float] = {}
    for key, value in data.items():
        op = str(key).upper()
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or value < 0:
            raise ConfigError(f"energy table {where}: {key!r} must be a finite number of pJ >= 0, "
                              f"got {value!r}")
        out[op] = float(value)
    missing = [op for op in REQUIRED if op not in out]
    if missing:
        raise ConfigError(f"energy table {where}: missing {', '.join(missing)} (pJ per operation); "
                          "give at least MAC and ACC")
    return out


def normalize_table(data: Any, precision: str = "int", where: str = "") -> dict[str, float]:
    """A user table -> {op: pJ} for `precision`.

    Accepted shapes: {"MAC": 3.2, "ACC": 0.1, ...} (one column) or
    {"int": {...}, "fp": {...}} (columns by precision).
    """
    check_precision(precision)
    where = where or "(given)"
    if isinstance(data, dict) and any(str(k).lower() in PRECISIONS for k in data):
        columns = {str(k).lower(): v for k, v in data.items()}
        if precision not in columns:
            raise ConfigError(f"energy table {where} has no {precision!r} column; add one or pass "
                              f"--precision {'/'.join(c for c in columns if c in PRECISIONS)}")
        return _column(columns[precision], f"{where} [{precision}]")
    return _column(data, where)


def load_table(path: str | Path, precision: str = "int") -> dict[str, float]:
    """Read a JSON or YAML energy table; `ConfigError` (one line) when missing or malformed."""
    path = Path(path)
    data = read_json_or_yaml(path, "energy table", 'write e.g. {"MAC": 3.2, "ACC": 0.1}')
    return normalize_table(data, precision, repr(str(path)))


def default_table(precision: str = "int") -> dict[str, float]:
    return dict(TABLE_45NM[check_precision(precision)])
