"""Executors: run independent work units in this process, in local worker processes, or on a
Ray cluster, and hand each unit's result back exactly once, as it finishes.

A caller gives a picklable top-level function `work(context, unit) -> result`, one `context`
shared by every unit (shipped to each worker once: a process-pool initializer, a Ray object)
and the units. `run_units` yields `(unit index, result)` in completion order. A unit whose
worker dies (killed, out of memory) is run again on a fresh worker; its result still comes
back once, and the results that had already come back are untouched (with `processes` a dead
worker breaks the whole pool, so the units its siblings had in flight run again too; Ray
reruns only the dead worker's unit). A unit that raises is a bug or bad input and stops the
run with that exception.

    inprocess  the units one after another in this process (the default)
    processes  a `concurrent.futures.ProcessPoolExecutor` of `workers` spawned processes
    ray        Ray tasks (one CPU each) on the cluster at `ray_address`, or on a local
               cluster started for the run on 127.0.0.1 with `workers` CPUs

No scheduler of our own: the pool or Ray places the units; here only at most `workers` units
are in flight at once, and lost units are resubmitted.

Worker processes are spawned (they import the caller's `__main__` again), so a script that
uses `processes` keeps its work under `if __name__ == "__main__":`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from spikeloom.errors import ConfigError, SpikeloomError
from spikeloom.spec import Spec

EXECUTORS = ("inprocess", "processes", "ray")
MAX_LOSSES = 3  # a unit whose worker dies this often stops the run (it likely kills workers)


class ExecutorError(SpikeloomError):
    """Workers that cannot be started or reached, or a unit that keeps killing its worker."""


@dataclass(frozen=True)
class ExecutorConfig(Spec):
    """Where work units run.

    kind: 'inprocess', 'processes' or 'ray'. workers: worker processes (processes), CPUs of a
    local Ray cluster, or units in flight on an existing one (None: the machine's CPU count,
    or the cluster's). ray_address: an existing Ray cluster ('HOST:PORT' or 'ray://HOST:PORT';
    None starts a local one for the run). object_store_mb: object store of a local Ray cluster.
    """

    kind: str = "inprocess"
    workers: int | None = None
    ray_address: str | None = None
    object_store_mb: int = 256

    def __post_init__(self) -> None:
        if self.kind not in EXECUTORS:
            raise ConfigError(f"unknown executor {self.kind!r}; choose one of {', '.join(EXECUTORS)}")
        if self.workers is not None and (isinstance(self.workers, bool) or int(self.workers) != self.workers
                                         or self.workers < 1):
            raise ConfigError(f"--workers must be a positive integer, got {self.workers}")
        if self.ray_address is not None and self.kind != "ray":
            raise ConfigError("--ray-address is for --executor ray; add --executor ray or drop it")
        if self.object_store_mb < 80:
            raise ConfigError(f"a Ray object store needs at least 80 MB, got {self.object_store_mb}")

    def worker_count(self) -> int:
        """Workers a local pool or cluster gets."""
        return int(self.workers) if self.workers is not None else max(1, os.cpu_count() or 1)


Work = Callable[[Any, Any], Any]


def capacity(config: ExecutorConfig | None) -> int:
    """Units `run_units` keeps in flight: `workers`, else the CPUs of the Ray cluster this
    process is connected to, else the machine's CPU count (1 in process)."""
    config = config or ExecutorConfig()
    if config.kind == "inprocess":
        return 1
    if config.kind == "ray" and config.workers is None:
        ray = _ray()
        if ray.is_initialized():
            return max(1, int(ray.cluster_resources().get("CPU", 1)))
    return config.worker_count()


@contextmanager
def executor_session(config: ExecutorConfig | None) -> Iterator[None]:
    """Start what `config` needs before any output is written (Ray: connect to the cluster or
    start a local one; a missing extra or a bad address is an error here) and stop it after.
    `run_units` inside the session reuses it; outside, each call starts and stops its own.
    With `processes`, the session keeps the pool of the last `run_units` call for the next
    call with the same `work` and `context` objects (a search that sends its units in
    batches starts its workers once)."""
    if config is None or config.kind == "inprocess":
        yield
        return
    if config.kind == "processes":
        outer = _KEPT.copy()
        _KEPT.clear()
        _KEPT["session"] = True
        try:
            yield
        finally:
            _drop_kept_pool()
            _KEPT.clear()
            _KEPT.update(outer)
        return
    owned = start_ray(config)
    try:
        yield
    finally:
        if owned:
            _ray().shutdown()


def run_units(config: ExecutorConfig | None, work: Work, context: Any, units: Sequence[Any],
              log: Callable[[str], None] | None = None,
              gpus_per_unit: float = 0.0) -> Iterator[tuple[int, Any]]:
    """Yield (index into `units`, work(context, unit)) once per unit, in completion order.

    `log` hears about dead workers and the units run again because of them.
    `gpus_per_unit`: the GPU share a Ray task asks for (Ray hides GPUs from tasks that ask
    for none); local worker processes see the machine's GPUs anyway.
    """
    config = config or ExecutorConfig()
    if not units:
        return iter(())
    if config.kind == "inprocess":
        return ((i, work(context, u)) for i, u in enumerate(units))
    if config.kind == "processes":
        return _run_processes(config, work, context, units, log)
    return _run_ray(config, work, context, units, log, gpus_per_unit)


class _Losses:
    """Counts lost attempts per unit; raises once a unit has lost MAX_LOSSES workers."""

    def __init__(self, log: Callable[[str], None] | None) -> None:
        self.count: dict[int, int] = {}
        self.log = log

    def lost(self, index: int, why: str) -> None:
        self.count[index] = self.count.get(index, 0) + 1
        if self.count[index] >= MAX_LOSSES:
            raise ExecutorError(f"unit {index} lost its worker {MAX_LOSSES} times ({why}); a worker "
                                "probably runs out of memory: use fewer --workers")
        if self.log is not None:
            self.log(f"unit {index}: its worker died ({why}); running it again")


# ----- local worker processes --------------------------------------------------------------
_WORKER: dict[str, Any] = {}  # in a pool worker: the work function and the shared context


def share_cores(threads: int) -> None:
    """Limit this worker's torch (and, before its first import, numba) threads."""
    import sys  # noqa: PLC0415

    import torch  # noqa: PLC0415

    torch.set_num_threads(threads)
    if "numba" not in sys.modules:
        os.environ["NUMBA_NUM_THREADS"] = str(threads)


def _install(work: Work, context: Any, threads: int) -> None:
    share_cores(threads)
    _WORKER["work"], _WORKER["context"] = work, context


def _call(unit: Any) -> Any:
    return _WORKER["work"](_WORKER["context"], unit)


_KEPT: dict[str, Any] = {}  # in a `processes` session: its pool and the work/context it serves


CLOSE_GRACE_S = 10.0  # a closing pool's workers get this long to exit before they are killed


def close_pool(pool: Any, grace_s: float = CLOSE_GRACE_S) -> None:
    """Shut a `ProcessPoolExecutor` down without hanging: its own `shutdown(wait=True)` waits
    forever when a worker dies while the pool shuts down (the worker that held the call
    queue's lock takes it to its grave, and its sibling never reads the stop sentinel: 2 of 16
    to 7 of 30 tries on Python 3.11.7 with a worker SIGKILLed just after the shutdown began). The
    workers still there after `grace_s` are killed; units still running are abandoned."""
    manager = getattr(pool, "_executor_manager_thread", None)  # private, as of 3.9-3.13
    workers = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    if manager is None:
        return
    manager.join(grace_s)
    if manager.is_alive():
        for worker in workers:
            worker.kill()
        manager.join(grace_s)


def _drop_kept_pool() -> None:
    pool = _KEPT.pop("pool", None)
    _KEPT.pop("key", None)
    if pool is not None:
        close_pool(pool)


def _pool_for(workers: int, work: Work, context: Any, threads: int) -> tuple[Any, bool]:
    """A process pool serving `work` with `context`: the session's kept one when it serves
    them, else a new one (kept when in a session). Returns (pool, kept)."""
    import multiprocessing  # noqa: PLC0415
    from concurrent.futures import ProcessPoolExecutor  # noqa: PLC0415

    key = (work, id(context), workers)
    if _KEPT.get("key") == key and _KEPT.get("context") is context:
        return _KEPT["pool"], True
    # spawn, not fork: a forked child of a process that already ran torch's thread pools
    # can hang.
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_install, initargs=(work, context, threads))
    if not _KEPT.get("session"):
        return pool, False
    _drop_kept_pool()
    _KEPT.update(pool=pool, key=key, context=context)
    return pool, True


def _run_processes(config: ExecutorConfig, work: Work, context: Any, units: Sequence[Any],
                   log: Callable[[str], None] | None) -> Iterator[tuple[int, Any]]:
    from concurrent.futures import FIRST_COMPLETED, wait  # noqa: PLC0415
    from concurrent.futures.process import BrokenProcessPool  # noqa: PLC0415

    workers = config.worker_count()
    threads = max(1, (os.cpu_count() or 1) // workers)
    pending = list(range(len(units)))  # not yet finished, in submission order
    breaks_without_progress = 0
    while pending:
        # A killed worker breaks the pool (the pool cannot tell which unit it ran): every
        # unfinished unit goes to a new pool.
        pool, kept = _pool_for(workers, work, context, threads)
        complete = False
        try:
            broken = 0
            try:
                futures = {pool.submit(_call, units[i]): i for i in pending}
            except BrokenProcessPool:  # a kept pool's worker died while it waited
                futures, broken = {}, len(pending)
            todo = set(futures)
            while todo:
                finished, todo = wait(todo, return_when=FIRST_COMPLETED)
                for fut in finished:
                    i = futures[fut]
                    try:
                        result = fut.result()
                    except BrokenProcessPool:
                        broken += 1
                        continue
                    pending.remove(i)
                    breaks_without_progress = 0
                    yield i, result
            complete = not broken
        finally:
            if not (kept and complete):  # a broken, abandoned or unkept pool goes
                if kept:
                    _drop_kept_pool()
                else:
                    close_pool(pool)
        if broken:
            breaks_without_progress += 1
            if breaks_without_progress >= MAX_LOSSES:
                raise ExecutorError(f"worker processes died {MAX_LOSSES} times in a row without "
                                    "finishing a unit; a worker probably runs out of memory: use "
                                    "fewer --workers")
            if log is not None:
                log(f"a worker process died; running the {broken} unfinished unit(s) again "
                    "on a new pool")


# ----- Ray ---------------------------------------------------------------------------------
def _ray():
    try:
        import ray  # noqa: PLC0415
    except ImportError:
        raise ConfigError("--executor ray needs Ray: pip install 'spikeloom[ray]'") from None
    return ray


def _ray_call(work: Work, context: Any, unit: Any) -> Any:
    share_cores(1)  # a task holds one CPU
    return work(context, unit)


def start_ray(config: ExecutorConfig) -> bool:
    """Connect to `config.ray_address` or start a local cluster on 127.0.0.1 (no dashboard);
    True when this call started or connected it (and `ray.shutdown` is ours to call)."""
    ray = _ray()
    if ray.is_initialized():
        return False
    if config.ray_address and config.ray_address != "auto":
        check_reachable(config.ray_address)
    try:
        if config.ray_address:
            ray.init(address=config.ray_address, log_to_driver=False)
        else:
            ray.init(num_cpus=config.worker_count(), include_dashboard=False,
                     object_store_memory=config.object_store_mb * 1024 * 1024,
                     _node_ip_address="127.0.0.1", log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {config.ray_address}" if config.ray_address else "a local Ray cluster"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExecutorError(f"cannot start or reach {where} ({first}); check --ray-address "
                            "(`ray status` on the head node prints it)") from None
    return True


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """`ExecutorError` unless something accepts TCP connections at a Ray address
    ('HOST:PORT' or 'ray://HOST:PORT'): Ray itself would retry an unreachable one for minutes."""
    import socket  # noqa: PLC0415

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"malformed --ray-address {address!r}; write HOST:PORT (e.g. "
                          "10.0.0.5:6379) or ray://HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ExecutorError(f"no Ray cluster answers at {address} ({exc.strerror or exc}); "
                            "start one with `ray start --head` or fix --ray-address") from None


def _run_ray(config: ExecutorConfig, work: Work, context: Any, units: Sequence[Any],
             log: Callable[[str], None] | None, gpus: float) -> Iterator[tuple[int, Any]]:
    ray = _ray()
    owned = start_ray(config)
    try:
        from ray.exceptions import NodeDiedError, WorkerCrashedError  # noqa: PLC0415

        # Ray's own retries are off so that a lost unit is counted and reported here
        task = ray.remote(num_cpus=1, num_gpus=gpus, max_retries=0)(_ray_call)
        in_flight_cap = capacity(config)
        context_ref = ray.put(context)
        queue = list(range(len(units)))
        running: dict[Any, int] = {}
        losses = _Losses(log)
        while queue or running:
            while queue and len(running) < in_flight_cap:
                i = queue.pop(0)
                running[task.remote(work, context_ref, units[i])] = i
            done, _ = ray.wait(list(running), num_returns=1)
            for ref in done:
                i = running.pop(ref)
                try:
                    result = ray.get(ref)
                except (WorkerCrashedError, NodeDiedError) as exc:
                    losses.lost(i, type(exc).__name__)
                    queue.insert(0, i)
                    continue
                except ray.exceptions.RayTaskError as exc:  # the unit itself raised
                    raise exc.as_instanceof_cause() from None
                yield i, result
    finally:
        if owned:
            ray.shutdown()
