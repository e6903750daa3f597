"""A write that waits out its whole lock wait (another process holds the lock) is a temporary
condition, not a bug: 503 with ``Retry-After``, a SCIM error saying nothing was changed, one
warning line and no traceback; the database is not reported unavailable. Over real HTTP, on
SQLite (busy timeout) and PostgreSQL (``lock_timeout``), with the wait shortened to 200 ms."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import event

from scheduler.composition import Runtime
from scheduler.jobs import Jobs
from tests.support import entra_user
from tests.support.live_app import serve

SHORT_WAIT_MS = 200


def shorten_lock_waits(runtime: Runtime) -> None:
    """Every connection opened from now on waits 200 ms for a lock instead of 30 s (SQLite)
    or for ever (PostgreSQL); those already pooled are closed so none keeps the long wait."""
    engine = runtime.database_engine

    @event.listens_for(engine, "connect")
    def _short_wait(dbapi_connection: Any, _record: Any) -> None:
        if engine.dialect.name == "sqlite":
            dbapi_connection.execute(f"PRAGMA busy_timeout = {SHORT_WAIT_MS}")
        else:
            dbapi_connection.execute(f"SET lock_timeout = {SHORT_WAIT_MS}")
            dbapi_connection.commit()

    engine.pool.dispose()


@contextmanager
def write_lock_held_elsewhere(runtime: Runtime, database_url: str) -> Iterator[None]:
    """Another process's transaction keeps SCIM writes out, and lets reads through: an
    exclusive SQLite transaction (WAL readers go on), a SHARE lock on the resources table."""
    engine = runtime.database_engine
    if engine.dialect.name == "sqlite":
        holder = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    url = engine.url.set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False)) as pg:
        pg.execute("LOCK TABLE scim_resources IN SHARE MODE")
        try:
            yield
        finally:
            pg.rollback()


def test_a_write_that_outwaits_the_lock_answers_503_and_changes_nothing(
    runtime: Runtime, scim_token: str, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    shorten_lock_waits(runtime)
    headers = {"Authorization": f"Bearer {scim_token}"}
    with serve(runtime) as base, httpx.Client(base_url=base, timeout=60) as client:
        client.headers.update(headers)
        assert client.get("/scim/v2/Users").status_code == 200  # token cached before the lock
        caplog.clear()
        caplog.set_level(logging.INFO)
        with write_lock_held_elsewhere(runtime, database_url):
            refused = client.post("/scim/v2/Users", json=entra_user("waits"))
            assert client.get("/readyz").status_code == 200  # busy is not down
        troubles = [r for r in caplog.records if r.levelno >= logging.WARNING]
        # the access line of every request is the request log's; the rest tells the trouble
        records = [r for r in troubles if r.name != "inbound.web.request_log"]
        listed = client.get("/scim/v2/Users", params={"filter": 'userName eq "waits"'}).json()
        retried = client.post("/scim/v2/Users", json=entra_user("waits"))

    assert refused.status_code == 503, refused.text
    assert refused.headers["Retry-After"] == "5"
    body = refused.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == "503"
    assert "busy" in body["detail"] and "nothing was changed" in body["detail"]
    assert "Traceback" not in refused.text

    assert [(r.levelname, r.getMessage()) for r in records] == [
        ("WARNING", "staging database busy; request refused")
    ]
    assert all(r.exc_info is None for r in troubles)
    assert "lock" in records[0].__dict__["reason"]
    assert not runtime.services.database.down

    assert listed["totalResults"] == 0  # nothing of the refused write was kept
    assert retried.status_code == 201, retried.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_reconcile_run_that_outwaits_the_lock_logs_one_warning(
    runtime: Runtime, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The scheduler meets the same condition: one warning line, no traceback, no outage,
    and the run is tried again later (the job backs off as for any failed run)."""
    jobs = Jobs(runtime)
    shorten_lock_waits(runtime)
    caplog.set_level(logging.INFO)
    with write_lock_held_elsewhere(runtime, database_url):
        jobs.reconcile()
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [(r.levelname, r.getMessage()) for r in records] == [
        ("WARNING", "staging database busy; reconcile run failed")
    ]
    assert records[0].exc_info is None
    assert not runtime.services.database.down
