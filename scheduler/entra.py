"""The Entra watch: read the provisioning job and its provisioning log on a schedule.

It runs in the worker, never in a request: Graph being slow or down changes nothing in the SCIM
answers. One poll reads the job, then the log from the newest time already kept, then drops
entries past the retention. A failure is recorded for ``status`` and the next poll waits
(about 1 minute doubling to an hour, or longer when Graph's ``Retry-After`` says so); a
permission Graph refuses is shown as "not permitted: needs …" and asked again only hourly,
since no retry can grant it. One process polls at a time (the job lock), so two workers never
insert the same entries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.base import BaseScheduler

from connectors.entra.health import EntraReader, not_permitted
from inbound.database.entra_health import EntraHealthStore
from inbound.database.locks import JobLock
from reconcile.policy import RetryPolicy
from scheduler.singleton import add_singleton_job

log = logging.getLogger(__name__)

JOB_ID = "entra-health"
POLL_RETRY = RetryPolicy(initial_seconds=60, max_seconds=3600, jitter_seconds=10)
PERMISSION_RECHECK = timedelta(hours=1)
FIRST_LOOK_BACK = timedelta(days=1)
"""The first poll reads this much of the log (at most the retention), not Entra's whole month."""


class EntraWatch:
    def __init__(
        self,
        reader: EntraReader,
        store: EntraHealthStore,
        *,
        clock: Callable[[], datetime],
        retention: timedelta,
        retry: RetryPolicy = POLL_RETRY,
    ) -> None:
        self._reader = reader
        self._store = store
        self._clock = clock
        self._retention = retention
        self._retry = retry

    def poll(self, *, force: bool = False) -> dict[str, Any]:
        """One reading of the job and the log; ``force`` ignores a pending backoff."""
        now = self._clock()
        state = self._store.state() or {}
        waiting = state.get("next_poll_at")
        if not force and waiting is not None and now < waiting:
            return {"action": "waiting", "next_poll_at": waiting.isoformat()}
        failures: list[tuple[str, BaseException]] = []
        try:
            job = self._reader.job()
            self._store.record_job(job.to_row() if job is not None else None)
        except Exception as exc:  # Graph or the network; recorded, never raised
            failures.append(("job", exc))
        added = 0
        try:
            since = self._store.watermark() or now - min(self._retention, FIRST_LOOK_BACK)
            added = self._store.record_logs(
                [entry.to_row() for entry in self._reader.provisioning(since)]
            )
        except Exception as exc:  # as above
            failures.append(("logs", exc))
        pruned = self._store.prune(now - self._retention)
        next_poll_at = self._after(failures, int(state.get("attempts") or 0), now)
        return {
            "action": "failed" if failures else "read",
            "entries_added": added,
            "entries_pruned": pruned,
            "problems": {part: self._store_problem(part, exc) for part, exc in failures},
            "next_poll_at": next_poll_at.isoformat() if next_poll_at else None,
        }

    def _store_problem(self, part: str, exc: BaseException) -> str:
        problem = not_permitted(exc, part) or f"{type(exc).__name__}: {exc}"
        if part == "job":
            self._store.record_job_problem(problem)
        else:
            self._store.record_logs_problem(problem)
        return problem

    def _after(
        self, failures: list[tuple[str, BaseException]], attempts: int, now: datetime
    ) -> datetime | None:
        if not failures:
            self._store.record_poll(0, None)
            return None
        for part, exc in failures:
            log.warning(
                "entra poll failed",
                extra={"part": part, "error": not_permitted(exc, part) or str(exc)},
            )
        if all(not_permitted(exc, part) for part, exc in failures):
            next_poll_at = now + PERMISSION_RECHECK
        else:
            asked = [getattr(exc, "retry_after", None) for _part, exc in failures]
            hint = max((a for a in asked if a is not None), default=None)
            next_poll_at = self._retry.next_attempt(attempts + 1, now, hint)
        self._store.record_poll(attempts + 1, next_poll_at)
        return next_poll_at


def register(
    scheduler: BaseScheduler,
    watch: EntraWatch,
    lock: JobLock,
    *,
    interval: timedelta,
    first_run: datetime,
) -> None:
    """Poll every ``interval`` (and once at start), one process at a time."""
    add_singleton_job(scheduler, JOB_ID, watch.poll, lock, interval=interval, first_run=first_run)
