"""Trial store: one JSON line per finished trial, appended and flushed as trials finish, so an
interrupted campaign resumes without redoing them. The first line fingerprints the campaign
(model, data, settings); a store written for another campaign is refused. A torn last line
(from a kill mid-write) is dropped on reading."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from spikeloom.errors import ConfigError
from spikeloom.io import atomic_write_text

FORMAT = "spikeloom-fault-trials"


def trial_key(scope: str, ber: float, trial: int) -> str:
    return f"{scope}|{float(ber)!r}|{int(trial)}"


class TrialStore:
    """Finished trials of one campaign, optionally backed by a JSON-lines file."""

    def __init__(self, path: str | os.PathLike[str] | None, fingerprint: str) -> None:
        self.path = Path(path) if path is not None else None
        self.fingerprint = fingerprint
        self.done: dict[str, dict[str, Any]] = {}
        if self.path is not None:
            self._open()

    def _open(self) -> None:
        assert self.path is not None
        lines: list[str] = []
        if self.path.exists():
            raw = self.path.read_text(encoding="utf-8")
            lines = raw.split("\n")
            complete = raw.endswith("\n")
            if not complete:  # torn last line: drop it and rewrite the good part
                lines = lines[:-1]
            lines = [ln for ln in lines if ln.strip()]
        if lines:
            try:
                header = json.loads(lines[0])
            except json.JSONDecodeError:
                header = {}
            if header.get("format") != FORMAT:
                raise ConfigError(f"{str(self.path)!r} is not a spikeloom trial store; "
                                  "choose another --out")
            if header.get("fingerprint") != self.fingerprint:
                raise ConfigError(f"{str(self.path)!r} holds trials of a different campaign "
                                  "(model, data or settings differ); use another --out or "
                                  "delete that file to start over")
            for line in lines[1:]:
                rec = json.loads(line)
                self.done[trial_key(rec["scope"], rec["ber"], rec["trial"])] = rec
        header_line = json.dumps({"format": FORMAT, "fingerprint": self.fingerprint})
        body = [header_line, *(json.dumps(r) for r in self.done.values())]
        text = "\n".join(body) + "\n"
        atomic_write_text(self.path, text)
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for appends

    def get(self, scope: str, ber: float, trial: int) -> dict[str, Any] | None:
        return self.done.get(trial_key(scope, ber, trial))

    def add(self, scope: str, ber: float, trial: int, seed: int, accuracy: float) -> None:
        rec = {"scope": scope, "ber": float(ber), "trial": int(trial), "seed": int(seed),
               "accuracy": float(accuracy)}
        self.done[trial_key(scope, ber, trial)] = rec
        if self.path is not None:
            self._fh.write(json.dumps(rec) + "\n")
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self.path is not None and not self._fh.closed:
            self._fh.close()
