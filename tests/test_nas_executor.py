"""The architecture search over an executor: local worker processes and a real local Ray
cluster (127.0.0.1, two workers) give the serial run's per-trial evaluations and the same
promoted networks on disk, also when a worker process is killed mid-search; the `nas` CLI takes the executor flags and refuses bad ones in one
line before writing anything."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from spikeloom.executor import ExecutorConfig, executor_session
from spikeloom.search.nas.fidelity import FidelityConfig
from spikeloom.search.nas.objectives import EvalSettings
from spikeloom.search.nas.space import space_from_dict
from spikeloom.search.nas.study import NasConfig, run_nas

sys.path.insert(0, str(Path(__file__).parent))
from workers import killing_a_busy_worker  # noqa: E402

SPACE = {"depth": [1], "widths": [8, 16], "timesteps": [3], "bits": [4, 8], "sparsity": [0.0, 0.5],
         "threshold": [1.0], "beta": [0.9], "reset": ["subtract"], "library": ["homogeneous:64x64"]}
# 5 low-fidelity trials (random: its proposals do not depend on earlier results), then 2
# promoted to full fidelity; no mapping objective (its search is time-limited)
CFG = NasConfig(strategy="random", objectives=("accuracy", "energy", "memory"), n_trials=5, seed=4,
                space=space_from_dict(SPACE, "test space"),
                settings=EvalSettings(epochs=1, batch_size=32, train_subset=150, eval_samples=120,
                                      finetune_epochs=1, seed=4),
                fidelity=FidelityConfig(kind="low", low_epochs=1, promote=1, validate=1))


def _per_trial(result):
    """What each trial and each promoted evaluation measured (not its timing or path)."""
    return ([(e.key, e.fidelity, e.objectives, e.score) for e in result.trials],
            [(e.key, e.fidelity, e.objectives) for e in result.final])


def _compressed(result):
    from spikeloom.snn.checkpoint import load_checkpoint

    return [load_checkpoint(Path(e.checkpoint).with_name("compressed.pt")).state_dict for e in result.final]


@pytest.fixture(scope="module")
def serial(digits, tmp_path_factory):
    return run_nas(CFG, digits, tmp_path_factory.mktemp("serial"))


@pytest.mark.parametrize("kind", ["processes", "ray"])
def test_nas_over_workers_equals_serial(kind, digits, serial, tmp_path):
    if kind == "ray":
        pytest.importorskip("ray", reason="Ray is the optional extra spikeloom[ray]")
    executor = ExecutorConfig(kind, workers=2, **({"object_store_mb": 100} if kind == "ray" else {}))
    heard: list[str] = []

    def under_way() -> bool:  # a trial is in, and more units are to come
        return any(line.startswith("trial ") for line in heard)

    with executor_session(executor), killing_a_busy_worker(under_way, kind) as killed:
        result = run_nas(CFG, digits, tmp_path, log=heard.append, executor=executor)
    assert killed, "no worker was killed: the search ended before the killer found one"
    assert any("died" in line and "again" in line for line in heard), heard
    assert len(result.trials) == CFG.n_trials and len(result.final) == 2
    assert _per_trial(result) == _per_trial(serial)
    # the workers' files landed in this run's folder, equal to the serial run's
    for e in result.final:
        assert Path(e.checkpoint).is_relative_to(tmp_path) and Path(e.checkpoint).is_file()
    for mine, theirs in zip(_compressed(result), _compressed(serial)):
        assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)
    assert sum(line.startswith("trial ") for line in heard) == CFG.n_trials
    # a second run finds the study full and every evaluation cached: nothing is sent out
    again = run_nas(CFG, digits, tmp_path, executor=ExecutorConfig("processes", workers=1))
    assert _per_trial(again) == _per_trial(serial)


def _nas_argv(out: Path, space: Path, *extra: str) -> list[str]:
    return ["nas", "--space", str(space), "--strategy", "random", "--objectives", "accuracy,memory",
            "--n-trials", "2", "--epochs", "1", "--train-subset", "100", "--eval-samples", "60",
            "--seed", "2", *extra, "--out", str(out), "--quiet"]


def test_nas_cli_processes_records_the_executor(tmp_path):
    from spikeloom.cli.main import main

    space = tmp_path / "space.json"
    space.write_text(json.dumps(SPACE))
    assert main(_nas_argv(tmp_path / "par", space, "--executor", "processes", "--workers", "2")) == 0
    assert main(_nas_argv(tmp_path / "ser", space)) == 0
    par = json.loads((tmp_path / "par" / "summary.json").read_text())
    ser = json.loads((tmp_path / "ser" / "summary.json").read_text())
    assert par["executor"] == {"kind": "processes", "workers": 2, "ray_address": None, "object_store_mb": 256}
    assert ser["executor"]["kind"] == "inprocess"
    assert [(t["key"], t["objectives"]) for t in par["trials"]] == [(t["key"], t["objectives"]) for t in ser["trials"]]


@pytest.mark.parametrize("extra, needle", [
    (["--executor", "ray"], "--executor ray needs Ray: pip install 'spikeloom[ray]'"),
    (["--ray-address", "10.0.0.5:6379"], "--ray-address is for --executor ray"),
    (["--executor", "processes", "--workers", "0"], "--workers must be a positive integer"),
])
def test_nas_cli_executor_errors_write_nothing(tmp_path, capsys, monkeypatch, extra, needle):
    from spikeloom.cli.main import main

    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    space = tmp_path / "space.json"
    space.write_text(json.dumps(SPACE))
    out = tmp_path / "out"
    assert main(_nas_argv(out, space, *extra)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and needle in err
    assert not out.exists()
