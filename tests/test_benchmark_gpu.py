"""benchmarks/gpu.py runs its CPU fallback (small sizes) and reports the batched engine equal
to the reference trial by trial."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu.py"


def test_gpu_benchmark_cpu_fallback(capsys, monkeypatch):
    pytest.importorskip("snntorch", reason="the peer library is a dev extra")
    monkeypatch.syspath_prepend(str(BENCH.parent))
    spec = importlib.util.spec_from_file_location("bench_gpu", BENCH)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_gpu", module)
    spec.loader.exec_module(module)
    monkeypatch.setitem(module.SMALL, "samples", 60)
    monkeypatch.setitem(module.SMALL, "trials", 3)
    monkeypatch.setitem(module.SMALL, "steps", 1)
    assert module.main(["--device", "cpu"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["device_type"] == "cpu" and report["identical"] is True
    assert report["trials"] == 3 and report["samples"] == 60
    for part in ("train", "campaign"):
        for row in report[part].values():
            assert next(v for k, v in row.items() if k != "peak_gpu_mib") > 0
    assert report["train_ratio"] > 0 and report["campaign_ratio"] > 0
