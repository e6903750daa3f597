"""The one lock every once-at-a-time job takes (full reconcile, token renewal, Entra watch,
alerts), on SQLite and on PostgreSQL: one holder at a time, also within one process; released
when the job fails or its holder dies; and scoped to one installation, so that two
installations in different PostgreSQL schemas of one database never wait for each other."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from scheduler.composition import Runtime, compose
from scheduler.jobs import FULL_RECONCILE_JOB
from scheduler.settings import Settings
from tests.support import FakeClock, pg_schema


class JobFailed(Exception):
    pass


@pytest.fixture
def neighbour(runtime: Runtime, clock: FakeClock) -> Iterator[Runtime]:
    """Another installation on the same PostgreSQL database, in a schema of its own."""
    if runtime.database_engine.dialect.name != "postgresql":
        pytest.skip("installations share a SQLite file only by sharing everything")
    with pg_schema(runtime.settings.database_url.split("?")[0], prefix="other") as url:
        other = compose(Settings(database_url=url), clock=clock)
        try:
            yield other
        finally:
            other.dispose()


def test_installations_in_different_schemas_do_not_block_each_other(
    runtime: Runtime, neighbour: Runtime, clock: FakeClock
) -> None:
    same_installation = compose(Settings(database_url=runtime.settings.database_url), clock=clock)
    try:
        with runtime.job_lock.hold(FULL_RECONCILE_JOB) as mine:
            assert mine
            with neighbour.job_lock.hold(FULL_RECONCILE_JOB) as theirs:
                assert theirs
            with same_installation.job_lock.hold(FULL_RECONCILE_JOB) as rival:
                assert not rival
    finally:
        same_installation.dispose()


def test_two_holds_in_one_process_exclude_each_other(runtime: Runtime) -> None:
    """The scheduled renewal and an operator's ``renew now`` may meet in one process."""
    with runtime.job_lock.hold("job") as first, runtime.job_lock.hold("job") as second:
        assert first and not second
    with runtime.job_lock.hold("job") as again:
        assert again


def test_a_failing_job_releases_the_lock(runtime: Runtime) -> None:
    def failing_job() -> None:
        with runtime.job_lock.hold("job") as mine:
            assert mine
            raise JobFailed

    with pytest.raises(JobFailed):
        failing_job()
    with runtime.job_lock.hold("job") as next_holder:
        assert next_holder


def test_the_lock_of_a_holder_that_died_is_free_again(runtime: Runtime, clock: FakeClock) -> None:
    """PostgreSQL ends the lock with its holder's connection; a SQLite lease expires."""
    holder = runtime.job_lock.hold("job", ttl=timedelta(minutes=10))
    assert holder.__enter__() is True  # never left: the holder dies
    with runtime.job_lock.hold("job") as meanwhile:
        assert not meanwhile
    if runtime.database_engine.dialect.name == "postgresql":
        with runtime.database_engine.connect() as conn:  # waits until the backend has exited
            killed = conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid, 10000) FROM pg_locks"
                    " WHERE locktype = 'advisory' AND objsubid = 1 AND granted"
                    " AND ((classid::bigint << 32) | objid::bigint) ="
                    " hashtextextended('scim-sync:' || current_schema() || ':' || :name, 0)"
                ),
                {"name": "job"},
            ).all()
        assert killed == [(True,)]
        with runtime.job_lock.hold("job") as after:
            assert after
        with pytest.raises(OperationalError):  # what is left of the holder finds it gone
            holder.__exit__(None, None, None)
        return
    clock.advance(10 * 60 + 1)
    with runtime.job_lock.hold("job") as after:
        assert after
        holder.__exit__(None, None, None)  # woken late, it must not end its successor's lease
        with runtime.job_lock.hold("job") as third:
            assert not third
