"""An interval job that one process runs at a time, for the jobs that read or announce shared
state (the Entra watch, the alert webhook): the others skip the tick instead of repeating it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger

from inbound.database.locks import JobLock

log = logging.getLogger(__name__)


def add_singleton_job(
    scheduler: BaseScheduler,
    job_id: str,
    run: Callable[[], Any],
    lock: JobLock,
    *,
    interval: timedelta,
    first_run: datetime,
) -> None:
    def tick() -> None:
        with lock.hold(job_id, ttl=timedelta(minutes=10)) as mine:
            if not mine:
                return
            try:
                run()
            except Exception:  # the database failed; the next tick tries again
                log.exception("scheduled job failed", extra={"job": job_id})

    scheduler.add_job(
        tick,
        IntervalTrigger(seconds=interval.total_seconds()),
        id=job_id,
        replace_existing=True,
        next_run_time=first_run,
    )
