from __future__ import annotations

import json
import subprocess
import sys

import pytest

from spikeloom.cli.main import main


def test_map_preset_writes_mapping_summary_and_figure(tmp_path):
    out = tmp_path / "out"
    rc = main(["map", "--preset", "E", "--crossbars", "table2", "--time-limit", "4",
               "--threads", "2", "--quiet", "--out", str(out)])
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    mapping = json.loads((out / "mapping.json").read_text())
    for key in ("area", "crossbars_used", "routes_total", "routes_global", "lower_bound", "gap",
                "status", "solver_seconds", "deterministic_time", "valid"):
        assert key in summary
    assert summary["valid"] is True and summary["area"] >= summary["lower_bound"]
    assert len(mapping["assignment"]) == 150
    assert {"id", "type", "inputs", "outputs", "neurons"} <= set(mapping["crossbars"][0])
    assert (out / "usage.png").read_bytes()[:4] == b"\x89PNG"


def test_profile_and_packets(tmp_path, tennlab_dir):
    prof = tmp_path / "p.json"
    prof.write_text(json.dumps({"0": 10, "1": 3, "2": 7, "3": 1}))
    rc = main(["map", "--network", str(tennlab_dir / "xor_noleak.json"), "--crossbars", "homogeneous:4x4",
               "--objective", "area-then-packets", "--profile", str(prof), "--time-limit", "3",
               "--quiet", "--no-figure", "--out", str(tmp_path / "o")])
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert rc == 0 and s["packets"] is not None and s["area"] == 32


def _err(capsys, argv):
    rc = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    return rc, err


@pytest.mark.parametrize("case", ["fanin", "malformed", "empty", "capacity", "objective"])
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, case):
    net = tmp_path / "net.csv"
    net.write_text("".join(f"s{i},t\n" for i in range(6)))
    lib = "homogeneous:4x4"
    extra: list[str] = []
    if case == "malformed":
        net = tmp_path / "net.json"
        net.write_text("{\"Nodes\": [")
    elif case == "empty":
        (tmp_path / "lib.json").write_text("[]")
        lib = str(tmp_path / "lib.json")
    elif case == "capacity":
        (tmp_path / "lib.json").write_text(json.dumps([{"size": "8x2", "count": 2}]))
        lib = str(tmp_path / "lib.json")
    elif case == "objective":
        extra = ["--objective", "packets"]
        lib = "homogeneous:8x8"
    out = tmp_path / "out"
    rc, err = _err(capsys, ["map", "--network", str(net), "--crossbars", lib, "--time-limit", "1",
                            "--out", str(out), *extra])
    assert rc == 2 and len(err) == 1 and err[0].startswith("error: ")
    if case == "fanin":
        assert "'t'" in err[0] and "fan-in 6" in err[0] and "8x8" in err[0]
    assert not out.exists()  # not even an empty --out folder


def test_hw_and_map_command_do_not_import_torch():
    code = ("import sys; import spikeloom.hw, spikeloom.cli.cmd_map; from spikeloom.hw import *; "
            "r = map_network(preset_network('E'), parse_library('homogeneous:16x16'), time_limit=1); "
            "assert r.valid; assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_tennlab_txt_too_wide_for_every_crossbar_is_one_line_exit_2(tmp_path, capsys, tennlab_dir):
    """A real TENNLab network in a .txt file (as TENNLab keeps them) whose widest neurons
    (fan-in 48) fit no crossbar of the library: one line naming a neuron, its fan-in and a
    size that holds it; exit 2; nothing written."""
    net = tmp_path / "dbscan.txt"
    net.write_bytes((tennlab_dir / "dbscan_flat_full_18_18_3_4.json").read_bytes())
    out = tmp_path / "out"
    rc, err = _err(capsys, ["map", "--network", str(net), "--crossbars", "16x16,32x32",
                            "--time-limit", "1", "--quiet", "--out", str(out)])
    assert rc == 2 and len(err) == 1 and err[0].startswith("error: neuron ")
    assert "32 inputs" in err[0] and "64x64" in err[0]
    assert not out.exists()
