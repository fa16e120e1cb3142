"""Atomic file output: write to a temporary file in the same folder, then rename, so an
interrupted run never leaves a half-written file behind."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spikeloom.errors import OutputError


def prepare_out_dir(path: str | os.PathLike[str]) -> Path:
    """Create `path` (and parents) and check that it is writable; raise `OutputError` if not."""
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create output folder {str(out)!r} ({exc.strerror}); choose a writable --out"
        ) from None
    if not out.is_dir() or not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"output folder {str(out)!r} is not writable; choose a writable --out")
    return out


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Call `write(tmp_path)` to produce the file, then rename it over `path` atomically."""
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OutputError(f"cannot write into {str(target.parent)!r} ({exc.strerror})") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    return atomic_write(path, lambda p: p.write_bytes(data))


def _jsonable(obj: Any) -> Any:
    """Convert numpy/torch scalars, tuples, paths and non-finite floats to plain JSON values."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 0) == 0:
        obj = obj.item()
    if hasattr(obj, "tolist") and callable(obj.tolist):
        return _jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def to_json(obj: Any) -> str:
    return json.dumps(_jsonable(obj), indent=2, sort_keys=False) + "\n"


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    return atomic_write_text(path, to_json(obj))


def write_summary(out_dir: str | os.PathLike[str], summary: dict[str, Any]) -> Path:
    """Write `out_dir/summary.json` atomically."""
    return atomic_write_json(Path(out_dir) / "summary.json", summary)


def read_json_or_yaml(path: str | os.PathLike[str], what: str, hint: str) -> Any:
    """Parse a JSON file, or YAML by its .yaml/.yml suffix. A missing, unreadable or malformed
    file raises a one-line `ConfigError` naming `what` (e.g. 'energy table') and `hint`."""
    from spikeloom.errors import ConfigError  # noqa: PLC0415

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} {str(p)!r} does not exist; {hint}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {what} {str(p)!r} ({type(exc).__name__}); {hint}") from None
    try:
        if p.suffix.lower() in (".yaml", ".yml"):
            import yaml  # noqa: PLC0415

            return yaml.safe_load(text)
        return json.loads(text)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the user's malformed file
        first = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{what} {str(p)!r} is malformed ({first}); {hint}") from None


def pyplot() -> Any:
    """matplotlib.pyplot on the non-interactive Agg backend (imported on first use)."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def save_png(fig: Any, path: str | os.PathLike[str], dpi: int = 110, tight: bool = True) -> Path:
    """Write a matplotlib figure as PNG atomically and close it."""
    try:
        if tight:
            fig.tight_layout()
        return atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=dpi))
    finally:
        pyplot().close(fig)
