"""Worker processes of an executor run by this test process, for the tests that kill one
(Linux /proc)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def descendants() -> list[tuple[int, str]]:
    """(pid, command line) of every descendant of this process (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, stack = [], [os.getpid()]
    while stack:
        for pid in children.get(stack.pop(), []):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            out.append((pid, cmd))
            stack.append(pid)
    return out


def cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def busy_worker(kind: str) -> int | None:
    """A worker process that is running a unit now."""
    if kind == "ray":  # Ray titles a worker after the task it runs
        busy = [pid for pid, cmd in descendants() if cmd.startswith("ray::_ray_call")]
        return busy[0] if busy else None
    workers = [pid for pid, cmd in descendants() if "spawn_main" in cmd]
    if not workers:
        return None
    before = {pid: cpu_ticks(pid) for pid in workers}
    time.sleep(0.1)
    used = {pid: cpu_ticks(pid) - before[pid] for pid in workers}
    pid = max(workers, key=used.__getitem__)
    # none used the CPU: all idle (between units, or a lingering earlier pool's), try again;
    # killing an idle one let a campaign finish with nothing to run again (CI, 2026-12-01)
    return pid if used[pid] > 0 else None


def _kill_a_busy_worker(under_way, kind: str, killed: list[int], stop: threading.Event,
                        timeout_s: float) -> None:
    import signal  # noqa: PLC0415

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not stop.is_set():
        if under_way():
            pid = busy_worker(kind)
            if pid is not None and not stop.is_set():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
        time.sleep(0.05)


@contextmanager
def killing_a_busy_worker(under_way, kind: str, timeout_s: float = 300) -> Iterator[list[int]]:
    """Around a run: once `under_way()` says it has work in flight, a thread SIGKILLs a busy
    worker (its pid goes to the list yielded). The thread stops as soon as the run returns: a
    worker killed while the pool shuts down can leave the other one waiting forever for the
    call queue's lock that the dead one held."""
    killed: list[int] = []
    stop = threading.Event()
    killer = threading.Thread(target=_kill_a_busy_worker, daemon=True,
                              args=(under_way, kind, killed, stop, timeout_s))
    killer.start()
    try:
        yield killed
    finally:
        stop.set()
        killer.join()
