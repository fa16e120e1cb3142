from __future__ import annotations

import json

import pytest

from spikeloom.errors import ConfigError
from spikeloom.hw import parse_library


def test_presets():
    lib = parse_library("homogeneous:16x16")
    assert [(t.inputs, t.outputs, t.cost, t.count) for t in lib.types] == [(16, 16, 256, None)]
    t2 = parse_library("table2")
    assert [t.name for t in t2.types] == ["4x4", "8x8", "16x16", "32x32", "8x4", "16x4", "32x4",
                                          "16x8", "32x8", "32x16"]
    assert all(t.cost == t.inputs * t.outputs for t in t2.types)
    assert parse_library("32x4").types[0].inputs == 32


def test_user_file_with_cost_and_count(tmp_path):
    f = tmp_path / "lib.json"
    f.write_text(json.dumps({"crossbars": [{"size": "8x8", "cost": 10, "count": 3},
                                           {"inputs": 4, "outputs": 2}]}))
    lib = parse_library(str(f))
    assert [(t.name, t.cost, t.count) for t in lib.types] == [("8x8", 10, 3), ("4x2", 8, None)]
    y = tmp_path / "lib.yaml"
    y.write_text("crossbars:\n  - size: 16x8\n    count: 2\n")
    assert parse_library(str(y)).types[0].count == 2


@pytest.mark.parametrize("content", ["[]", "{\"crossbars\": []}"])
def test_empty_library_is_an_error(tmp_path, content):
    f = tmp_path / "lib.json"
    f.write_text(content)
    with pytest.raises(ConfigError, match="empty"):
        parse_library(str(f))


@pytest.mark.parametrize("spec", ["homogeneous:16", "banana", "homogeneous:0x4"])
def test_bad_specs(spec):
    with pytest.raises(ConfigError):
        parse_library(spec)
