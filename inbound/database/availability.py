"""Telling a temporary database condition apart from every other database error.

Two conditions are temporary, and neither is a bug to log with a traceback:

- *unreachable*: the database is down (stopped, restarting, a dropped link, a full pool).
  Every request and every scheduler tick fails the same way until it is back, so it is a
  state of the whole process: reported once each way (:class:`DatabaseOutage`), ``/readyz``
  fails, the pool is dropped, SCIM answers 503 with ``Retry-After``, the scheduler backs off.
- *busy*: the database is up but one statement waited for a lock as long as it may (another
  process held SQLite's write lock through the whole busy timeout, a backup say; PostgreSQL's
  ``lock_timeout`` or ``statement_timeout`` ran out, or a ``NOWAIT`` lock was refused). Only
  that statement failed and nothing it belonged to was written; reads and other writes go on.
  SCIM answers the same 503 with a detail that says so, logged as one warning per refusal;
  readiness and the pool are left alone, since marking the process down would flap.

Which driver errors mean which is decided here, and only here (:func:`database_trouble`).
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from enum import Enum
from typing import Any

import psycopg
from sqlalchemy import exc as sa_exc

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
"""What a 503 tells Entra to wait before trying again."""

_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})
"""admin_shutdown, crash_shutdown, cannot_connect_now (PostgreSQL appendix A); class 08,
connection exception, counts whole."""
_SQLITE_UNAVAILABLE = ("unable to open database file", "disk i/o error")
_LOCK_NOT_AVAILABLE = "55P03"
"""lock_not_available: ``lock_timeout`` ran out, or a ``NOWAIT`` lock was held elsewhere."""
_QUERY_CANCELED = "57014"
"""query_canceled; only its ``statement_timeout`` form is a wait that ran out."""
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6
"""SQLite's primary result codes for a lock held elsewhere (extended codes keep them in the
low byte); the message is the fallback for errors raised without a code."""
_SQLITE_BUSY_MESSAGES = ("database is locked", "database table is locked", "database is busy")
_SECRET = re.compile(r"(password\s*=\s*)\S+", re.IGNORECASE)


class Trouble(Enum):
    """A temporary database condition (see the module's docstring)."""

    UNREACHABLE = "unreachable"
    BUSY = "busy"


def database_trouble(error: BaseException) -> Trouble | None:
    """Which temporary condition ``error`` (or an error it was raised from) reports, if any.

    An unreachable database wins over a busy one: a lock wait that ended because the link
    went down is the outage."""
    kinds = {_kind(e) for e in _chain(error)}
    if Trouble.UNREACHABLE in kinds:
        return Trouble.UNREACHABLE
    return Trouble.BUSY if Trouble.BUSY in kinds else None


def database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the database cannot be reached now, as opposed to refusing this
    statement (a busy database is not down: see :func:`database_trouble`)."""
    return database_trouble(error) is Trouble.UNREACHABLE


def _kind(error: BaseException) -> Trouble | None:
    if isinstance(error, sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return Trouble.UNREACHABLE  # no pooled connection to be had, or its link is dead
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return Trouble.UNREACHABLE
    if isinstance(error, psycopg.errors.PipelineAborted):
        return None  # an earlier statement of the pipeline failed; that one says why
    if isinstance(error, psycopg.Error):
        return _postgres_kind(error)
    if isinstance(error, sqlite3.OperationalError):
        return _sqlite_kind(error)
    return None


def _postgres_kind(error: psycopg.Error) -> Trouble | None:
    state = error.sqlstate
    if state == _LOCK_NOT_AVAILABLE:
        return Trouble.BUSY
    if state == _QUERY_CANCELED and "statement timeout" in str(error):
        return Trouble.BUSY
    if isinstance(error, psycopg.OperationalError) and (
        # no SQLSTATE: libpq's own "connection refused", "server closed the connection"
        state is None or state.startswith("08") or state in _UNAVAILABLE_SQLSTATES
    ):
        return Trouble.UNREACHABLE
    if isinstance(error, psycopg.InterfaceError) and "closed" in str(error):
        return Trouble.UNREACHABLE  # the connection was lost under us
    return None


def _sqlite_kind(error: sqlite3.OperationalError) -> Trouble | None:
    message = str(error).lower()
    if message.startswith(_SQLITE_UNAVAILABLE):
        return Trouble.UNREACHABLE
    code = getattr(error, "sqlite_errorcode", None)
    if (code is not None and code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)) or message.startswith(
        _SQLITE_BUSY_MESSAGES
    ):
        return Trouble.BUSY
    return None


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        pending.extend(
            [
                current.__cause__,
                current.__context__,
                orig if isinstance(orig, BaseException) else None,
            ]
        )


def reason_of(error: BaseException) -> str:
    """A one-line reason for the log: the driver's first line, with no password in it."""
    root = next((e for e in _chain(error) if _kind(e) is not None), error)
    first = _SECRET.sub(r"\1***", (str(root).strip().splitlines() or [""])[0][:200])
    return f"{type(root).__name__}: {first}"


RECOVERY_GRACE_SECONDS = 2.0
"""A failure this soon after the database came back is not announced as a new outage."""


class DatabaseOutage:
    """One process's view of whether the staging database is reachable.

    Whoever meets the failure first (a request, the scheduler) says so once in the log; the
    first success after it says once that the database is back. Everything in between stays
    quiet (a 17 s restart once logged 912 tracebacks, one per request).

    Around a restart, threads race: one connects after the server is up and reports it back,
    while another's attempt, begun a moment before, is refused and reported after it. That
    refusal, within :data:`RECOVERY_GRACE_SECONDS` of the recovery, drops the pool again but
    is not logged as a second outage (nor its end as a second recovery); a database still down
    after the grace is announced by the next failure, as usual."""

    def __init__(
        self,
        on_down: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``on_down``: called once per outage, e.g. to drop the pool's connections, which
        would otherwise fail one request each after the server is back."""
        self._down = False
        self._quiet = False
        self._back_at = -RECOVERY_GRACE_SECONDS
        self._lock = threading.Lock()
        self._on_down = on_down
        self._clock = clock

    @property
    def down(self) -> bool:
        return self._down

    def failed(self, error: BaseException) -> None:
        with self._lock:
            if self._down:
                return
            self._down = True
            self._quiet = self._clock() - self._back_at < RECOVERY_GRACE_SECONDS
        if not self._quiet:
            log.warning("staging database unavailable", extra={"reason": reason_of(error)})
        self._on_down()

    def report(self, error: BaseException, event: str, **context: Any) -> Trouble | None:
        """Say that ``event`` failed for a temporary condition, without a traceback: an
        unreachable database once for the whole outage (:meth:`failed`), a busy one in one
        warning line each time (it concerns that attempt only). None when ``error`` is no such
        condition: a bug, for the caller to log with its traceback."""
        trouble = database_trouble(error)
        if trouble is Trouble.UNREACHABLE:
            self.failed(error)
        elif trouble is Trouble.BUSY:
            log.warning(
                f"staging database busy; {event}", extra={"reason": reason_of(error), **context}
            )
        return trouble

    def succeeded(self) -> None:
        if not self._down:  # the common case costs one attribute read
            return
        with self._lock:
            if not self._down:
                return
            self._down = False
            self._back_at = self._clock()
            quiet, self._quiet = self._quiet, False
        if not quiet:
            log.info("staging database is back")
