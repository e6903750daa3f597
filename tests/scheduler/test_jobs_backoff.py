"""The reconcile job backs off while a target is down, and SCIM writes do not cut that short."""

from __future__ import annotations

from datetime import datetime, timedelta

from inbound.database.store import Actor
from inbound.schema import USER_TYPE
from scheduler.composition import compose
from scheduler.jobs import RECONCILE_JOB, Jobs
from scheduler.settings import load_settings
from tests.support import entra_user
from tests.support.clock import FakeClock
from tests.support.processes import free_port


def _next_reconcile(jobs: Jobs) -> datetime:
    [due] = [job["next_run_time"] for job in jobs.describe() if job["id"] == RECONCILE_JOB]
    return datetime.fromisoformat(due)


def test_a_write_during_an_outage_does_not_wake_the_job_before_its_backoff(
    database_url: str, clock: FakeClock
) -> None:
    """Before, a backoff only ever moved the next run earlier: a run that was due sooner (at
    start, or nudged by a write within the debounce of 0.2 s) ran again at once while LDAP
    was down, instead of after the 5 s backoff."""
    settings = load_settings(
        {
            "SCIM_SYNC_DATABASE_URL": database_url,
            "SCIM_SYNC_LDAP_URL": f"ldap://127.0.0.1:{free_port()}",  # nothing listens
            "SCIM_SYNC_LDAP_BASE_DN": "dc=example,dc=org",
            "SCIM_SYNC_LDAP_PASSWORD": "unused-password",
        }
    )
    runtime = compose(settings, clock=clock)
    try:
        jobs = Jobs(runtime)
        jobs.register_reconcile_jobs()  # what start() does, without starting the threads
        runtime.store.create(USER_TYPE, entra_user("alice"), Actor("test"))
        assert _next_reconcile(jobs) == clock.now  # due at once, as at every start

        jobs.reconcile()
        assert jobs.unavailable_targets() == {"ldap"}
        assert _next_reconcile(jobs) == clock.now + timedelta(seconds=5)
        jobs.nudge()  # Entra goes on writing meanwhile
        assert _next_reconcile(jobs) == clock.now + timedelta(seconds=5)

        clock.advance(5)
        jobs.reconcile()  # still down: twice as long
        jobs.nudge()
        assert _next_reconcile(jobs) == clock.now + timedelta(seconds=10)
    finally:
        runtime.dispose()
