"""A study shared by worker processes, for the multi-objective search and the architecture
search alike: it lives in an Optuna RDB storage (SQLite in the output folder by default, or
any URL such as `postgresql://...` reached by workers on several machines). Trials are
numbered by the storage, so workers never duplicate one; a trial beyond the budget (a race
between workers) is pruned unmeasured; a killed worker's trial is failed by the heartbeat
and retried by the next worker; finished trials are never redone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from spikeloom.errors import ConfigError


def open_storage(url: str, tries: int = 3):
    """An Optuna RDB storage with heartbeats, or a one-line ConfigError when unreachable.

    Retried briefly: workers starting together on a fresh database race to create its
    tables, and the loser sees 'table already exists' once."""
    import warnings  # noqa: PLC0415

    import optuna  # noqa: PLC0415

    for attempt in range(tries):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url, heartbeat_interval=30, grace_period=90,
                    heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=2))
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
