"""A study shared by worker processes, for the multi-objective search and the architecture
search alike: it lives in an Optuna RDB storage (SQLite in the output folder by default, or
any URL such as `postgresql://...` reached by workers on several machines). Trials are
numbered by the storage, so workers never duplicate one; a trial beyond the budget (a race
between workers) is pruned unmeasured; a killed worker's trial is failed by the heartbeat
and retried by the next worker; finished trials are never redone.

`optimize_in_batches` drives the same study from one process whose trials run elsewhere
(an executor's workers): it asks a batch of trials, sends their work out, and tells each
result as it comes back, keeping the asked trials' heartbeats alive meanwhile, so a killed
driver's trials are failed and retried exactly like a killed worker's.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from spikeloom.errors import ConfigError


def open_storage(url: str, tries: int = 3):
    """An Optuna RDB storage with heartbeats, or a one-line ConfigError when unreachable.

    Retried briefly: workers starting together on a fresh database race to create its
    tables, and the loser sees 'table already exists' once."""

    import optuna  # noqa: PLC0415

    for attempt in range(tries):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url, heartbeat_interval=30, grace_period=90,
                    heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=2))
        except ImportError as exc:  # the URL's database driver (Optuna re-raises SQLAlchemy's)
            missing = getattr(exc.__cause__, "name", None) or exc.name or "its driver"
            hint = ("pip install 'spikeloom[postgres]'" if missing == "psycopg" else
                    "write postgresql://... and pip install 'spikeloom[postgres]' (psycopg 3), or "
                    "install psycopg2-binary" if missing == "psycopg2" else "install that package")
            raise ConfigError(f"cannot open study storage {url!r}: the database driver {missing} is not "
                              f"installed; {hint}") from None
        except Exception as exc:  # sqlalchemy raises many kinds; all mean "cannot use this URL"
            if attempt + 1 < tries:
                time.sleep(0.5 * (attempt + 1))
                continue
            reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"cannot open study storage {url!r} ({reason}); check the URL, that "
                              "the database server is reachable, and that its driver is installed") from None
    raise AssertionError("unreachable")


def optimize_shared(study: Any, n_trials: int, objective: Callable[[Any], Any]) -> list[Any]:
    """Run `objective` in this worker until the study holds `n_trials` trials (complete,
    running or waiting, all workers together); return the completed trials by number."""
    import optuna  # noqa: PLC0415
    from optuna.trial import TrialState  # noqa: PLC0415

    busy = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING)

    def count() -> int:
        return len(study.get_trials(deepcopy=False, states=busy))

    def guarded(trial: Any) -> Any:
        earlier = [t for t in study.get_trials(deepcopy=False, states=busy) if t.number < trial.number]
        if len(earlier) >= n_trials:
            trial.set_user_attr("surplus", True)
            raise optuna.TrialPruned()
        return objective(trial)

    def stop_when_full(study: Any, _trial: Any) -> None:
        if count() >= n_trials:
            study.stop()

    if count() < n_trials:
        study.optimize(guarded, callbacks=[stop_when_full], gc_after_trial=False)
    return sorted(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)), key=lambda t: t.number)


def optimize_in_batches(study: Any, n_trials: int, batch: int, propose: Callable[[Any], Any],
                        evaluate: Callable[[Sequence[Any]], Iterable[tuple[int, Any]]],
                        record: Callable[[Any, Any, Any], Any]) -> list[Any]:
    """Like `optimize_shared`, with each trial's work done by `evaluate`: ask up to `batch`
    trials (never beyond `n_trials`, all workers together), `propose(trial)` -> its work unit,
    `evaluate(units)` -> (index, outcome) as each finishes, `record(trial, unit, outcome)` ->
    the objective values (or raise `optuna.TrialPruned`), told at once; then the next batch.

    Trials are asked and proposed in number order, as `study.optimize` would, so a sampler
    whose proposals do not depend on earlier results (grid, random, and the start-up trials
    of TPE/GP) proposes the same trial for the same number. An error in `evaluate` or
    `record` fails this batch's untold trials and propagates."""
    import optuna  # noqa: PLC0415
    from optuna.trial import TrialState  # noqa: PLC0415

    busy = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING)

    def count() -> int:
        return len(study.get_trials(deepcopy=False, states=busy))

    while True:
        _fail_stale(study)
        asked: list[Any] = []
        told: set[int] = set()
        try:
            units = []
            while len(asked) < batch and count() < n_trials:
                with warnings.catch_warnings():  # "heartbeat is meant for optimize": kept below
                    warnings.simplefilter("ignore", UserWarning)
                    trial = study.ask()
                earlier = [t for t in study.get_trials(deepcopy=False, states=busy) if t.number < trial.number]
                if len(earlier) >= n_trials:  # another worker filled the study meanwhile
                    trial.set_user_attr("surplus", True)
                    study.tell(trial, state=TrialState.PRUNED)
                    break
                asked.append(trial)
                units.append(propose(trial))
            if not asked:
                break
            with _heartbeats(study, asked):
                for i, outcome in evaluate(units):
                    try:
                        values = record(asked[i], units[i], outcome)
                    except optuna.TrialPruned:
                        study.tell(asked[i], state=TrialState.PRUNED)
                    else:
                        study.tell(asked[i], values)
                    told.add(i)
        except BaseException:
            for i, trial in enumerate(asked):
                if i not in told:
                    study.tell(trial, state=TrialState.FAIL)
            raise
    return sorted(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)), key=lambda t: t.number)


def _fail_stale(study: Any) -> None:
    """Fail (and, through the storage's callback, retry) trials whose heartbeat stopped."""
    import optuna  # noqa: PLC0415

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


@contextmanager
def _heartbeats(study: Any, trials: list[Any]) -> Iterator[None]:
    """Record the heartbeats of `trials` while they run elsewhere (`study.optimize` does this
    for the one trial it runs; the storage knows a trial only by its id)."""
    storage = study._storage
    interval = storage.get_heartbeat_interval() if hasattr(storage, "get_heartbeat_interval") else None
    if not interval:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while True:
            for trial in trials:
                storage.record_heartbeat(trial._trial_id)
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
