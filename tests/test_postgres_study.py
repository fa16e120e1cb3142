"""A PostgreSQL-backed study: `nas --storage postgresql://...` on a real PostgreSQL server
started for the test (127.0.0.1; skipped where its binaries are not installed), with its
evaluations on worker processes; and the storage URL refused in one line before anything is
written (unreachable server, missing driver)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from spikeloom.cli.main import main

SPACE = {"depth": [1], "widths": [8, 16], "timesteps": [3], "bits": [4, 8], "sparsity": [0.0, 0.5],
         "threshold": [1.0], "beta": [0.9], "reset": ["subtract"], "library": ["homogeneous:64x64"]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    """A throw-away PostgreSQL server on 127.0.0.1 (trust authentication); its URL."""
    pytest.importorskip("psycopg", reason="the PostgreSQL driver is the extra spikeloom[postgres]")
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    root = Path(tempfile.mkdtemp(prefix="spikeloom-pg-"))  # not under pytest's root-only folder
    prefix: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        if shutil.which("runuser") is None or subprocess.run(["id", "postgres"], capture_output=True).returncode:
            pytest.skip("running as root, and there is no postgres user to start PostgreSQL as")
        shutil.chown(root, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    data = root / "data"
    try:
        subprocess.run([*prefix, initdb, "-D", str(data), "-U", "spikeloom", "--auth=trust"], check=True,
                       capture_output=True)
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-l", str(root / "log"), "-w", "-o",
                        f"-k {root} -p {port} -c listen_addresses=127.0.0.1", "start"], check=True,
                       capture_output=True)
        yield f"postgresql://spikeloom@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _argv(tmp_path: Path, out: Path, *extra: str) -> list[str]:
    space = tmp_path / "space.json"
    space.write_text(json.dumps(SPACE))
    return ["nas", "--space", str(space), "--strategy", "random", "--objectives", "accuracy,memory",
            "--n-trials", "3", "--epochs", "1", "--train-subset", "100", "--eval-samples", "60",
            "--seed", "1", *extra, "--out", str(out), "--quiet"]


def test_nas_on_a_postgresql_study_with_worker_processes(postgres_url, tmp_path):
    import optuna
    from optuna.trial import TrialState

    argv = _argv(tmp_path, tmp_path / "run", "--storage", postgres_url, "--executor", "processes",
                 "--workers", "2")
    assert main(argv) == 0
    (name,) = optuna.study.get_all_study_names(postgres_url)
    study = optuna.load_study(study_name=name, storage=postgres_url)
    states = [t.state for t in study.get_trials()]
    assert states == [TrialState.COMPLETE] * 3  # in the database, none lost or twice
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert [t["key"] for t in summary["trials"]] == [t.user_attrs["evaluation"]["key"] for t in study.get_trials()]
    assert not (tmp_path / "run" / "study.db").exists()  # the study lives in PostgreSQL only
    assert main(argv) == 0  # resumes: the study is full, nothing new is measured
    assert len(study.get_trials()) == 3


def test_unreachable_postgresql_url_is_one_line_and_writes_nothing(tmp_path, capsys):
    pytest.importorskip("psycopg", reason="the PostgreSQL driver is the extra spikeloom[postgres]")
    out = tmp_path / "out"
    assert main(_argv(tmp_path, out, "--storage", f"postgresql://u@127.0.0.1:{_free_port()}/none")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot open study storage") and err.count("\n") == 1
    assert "Connection refused" in err or "connection" in err.lower()
    assert not out.exists()


def test_missing_postgresql_driver_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if the extra were not installed
    out = tmp_path / "out"
    assert main(_argv(tmp_path, out, "--storage", "postgresql://u@127.0.0.1:5432/db")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the database driver psycopg is not installed" in err
    assert "pip install 'spikeloom[postgres]'" in err and not out.exists()
