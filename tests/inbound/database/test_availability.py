"""Which database errors mean "unreachable now", and the outage said once each way."""

from __future__ import annotations

import logging
import sqlite3

import psycopg
import pytest
from sqlalchemy import exc as sa_exc

from inbound.database.availability import (
    RECOVERY_GRACE_SECONDS,
    DatabaseOutage,
    Trouble,
    database_trouble,
    database_unavailable,
    reason_of,
)


def wrapped(orig: Exception) -> sa_exc.OperationalError:
    return sa_exc.OperationalError("SELECT 1", {}, orig)


@pytest.mark.parametrize(
    "error",
    [
        psycopg.OperationalError("connection failed: Connection refused"),
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        psycopg.errors.CannotConnectNow("the database system is starting up"),
        psycopg.errors.lookup("08006")("connection failure"),
        psycopg.InterfaceError("the connection is closed"),
        wrapped(psycopg.OperationalError("server closed the connection unexpectedly")),
        sa_exc.TimeoutError("QueuePool limit of size 20 overflow 0 reached"),
        sqlite3.OperationalError("unable to open database file"),
    ],
)
def test_unreachable(error: Exception) -> None:
    assert database_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.UniqueViolation("duplicate key"),
        psycopg.errors.PipelineAborted("pipeline aborted"),
        psycopg.InterfaceError("cannot use a cursor in pipeline mode"),
        sqlite3.OperationalError("database is locked"),
        wrapped(psycopg.errors.UndefinedTable("relation does not exist")),
        ValueError("a bug"),
    ],
)
def test_not_an_outage(error: Exception) -> None:
    assert not database_unavailable(error)


def _sqlite_error(message: str, code: int | None) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError(message)
    if code is not None:
        error.sqlite_errorcode = code  # as the sqlite3 module sets it on errors it raises
    return error


@pytest.mark.parametrize(
    "error",
    [
        _sqlite_error("database is locked", None),
        _sqlite_error("database is locked", 5),
        _sqlite_error("locked in another way", 5 | (3 << 8)),  # SQLITE_BUSY_TIMEOUT
        _sqlite_error("database table is locked", 6),
        wrapped(_sqlite_error("database is locked", 5)),
        psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"),
        psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
        wrapped(psycopg.errors.LockNotAvailable("could not obtain lock on row")),
    ],
)
def test_a_lock_held_too_long_is_busy_not_down(error: Exception) -> None:
    assert database_trouble(error) is Trouble.BUSY
    assert not database_unavailable(error)


def test_a_cancel_that_is_no_timeout_is_not_busy() -> None:
    assert database_trouble(psycopg.errors.QueryCanceled("due to user request")) is None


def test_unreachable_wins_over_busy() -> None:
    outer = _sqlite_error("database is locked", 5)
    outer.__cause__ = psycopg.errors.AdminShutdown("terminating connection")
    assert database_trouble(outer) is Trouble.UNREACHABLE


def test_a_cause_counts() -> None:
    outer = RuntimeError("the write failed")
    outer.__cause__ = psycopg.errors.AdminShutdown("terminating connection")
    assert database_unavailable(outer)


def test_the_reason_names_the_driver_error_without_a_password() -> None:
    error = wrapped(psycopg.OperationalError("connection failed: password=hunter2 refused\nmore"))
    assert reason_of(error) == "OperationalError: connection failed: password=*** refused"


def test_an_outage_is_logged_once_each_way(caplog: pytest.LogCaptureFixture) -> None:
    dropped: list[bool] = []
    now = [100.0]
    outage = DatabaseOutage(on_down=lambda: dropped.append(True), clock=lambda: now[0])
    caplog.set_level(logging.INFO, logger="inbound.database.availability")
    outage.succeeded()
    for _ in range(3):
        outage.failed(psycopg.OperationalError("connection refused"))
    assert outage.down
    for _ in range(3):
        outage.succeeded()
    now[0] += RECOVERY_GRACE_SECONDS
    outage.failed(psycopg.OperationalError("connection refused"))
    assert [r.getMessage() for r in caplog.records] == [
        "staging database unavailable",
        "staging database is back",
        "staging database unavailable",
    ]
    assert dropped == [True, True]
    assert all(r.exc_info is None for r in caplog.records)


def test_a_refusal_racing_the_recovery_is_not_a_second_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A connection attempt begun just before the server was up fails just after another
    thread saw it back: the pool is dropped again, the log keeps one outage."""
    dropped: list[bool] = []
    now = [100.0]
    outage = DatabaseOutage(on_down=lambda: dropped.append(True), clock=lambda: now[0])
    caplog.set_level(logging.INFO, logger="inbound.database.availability")
    outage.failed(psycopg.OperationalError("connection refused"))
    now[0] += 17
    outage.succeeded()
    now[0] += RECOVERY_GRACE_SECONDS / 2
    outage.failed(psycopg.OperationalError("connection refused"))
    assert outage.down
    outage.succeeded()
    assert not outage.down
    assert [r.getMessage() for r in caplog.records] == [
        "staging database unavailable",
        "staging database is back",
    ]
    assert dropped == [True, True]


def test_a_report_says_what_is_temporary_and_leaves_bugs_to_the_caller(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage = DatabaseOutage()
    caplog.set_level(logging.INFO, logger="inbound.database.availability")
    busy = _sqlite_error("database is locked", 5)
    assert outage.report(busy, "reconcile run failed") is Trouble.BUSY
    assert outage.report(busy, "reconcile run failed") is Trouble.BUSY
    assert not outage.down  # busy is no outage: nothing to say "back" about later
    down = psycopg.OperationalError("connection refused")
    assert outage.report(down, "reconcile run failed") is Trouble.UNREACHABLE
    assert outage.report(ValueError("a bug"), "reconcile run failed") is None
    assert [r.getMessage() for r in caplog.records] == [
        "staging database busy; reconcile run failed",
        "staging database busy; reconcile run failed",
        "staging database unavailable",
    ]
    assert all(r.exc_info is None for r in caplog.records)
