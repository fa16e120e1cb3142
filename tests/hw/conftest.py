from __future__ import annotations

from pathlib import Path

import pytest

TENNLAB = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "tennlab"


@pytest.fixture
def tennlab_dir() -> Path:
    if not (TENNLAB / "xor_noleak.json").exists():
        pytest.skip("TENNLab fixtures (../shared/data/tennlab) not present")
    return TENNLAB
