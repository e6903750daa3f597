"""Telling "the staging database is unreachable" apart from every other database error.

While the database is down (stopped, restarting, a dropped link, a full pool), every request
and every scheduler tick fails in the same way. That is an outage to report once and wait out
— SCIM answers 503 with ``Retry-After``, the scheduler backs off — not a bug to log with a
traceback each time. Which driver errors mean it is decided here, and only here.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator

import psycopg
from sqlalchemy import exc as sa_exc

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
"""What a 503 tells Entra to wait before trying again."""

_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})
"""admin_shutdown, crash_shutdown, cannot_connect_now (PostgreSQL appendix A); class 08,
connection exception, counts whole."""
_SQLITE_UNAVAILABLE = ("unable to open database file", "disk i/o error")
_SECRET = re.compile(r"(password\s*=\s*)\S+", re.IGNORECASE)


def database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` (or an error it was raised from) says the database cannot be reached
    now, as opposed to refusing this statement."""
    return any(_means_unreachable(e) for e in _chain(error))


def _means_unreachable(error: BaseException) -> bool:
    if isinstance(error, sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return True  # no pooled connection to be had, or the pool found its link dead
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, psycopg.errors.PipelineAborted):
        return False  # an earlier statement of the pipeline failed; that one says why
    if isinstance(error, psycopg.OperationalError):
        state = error.sqlstate
        # no SQLSTATE: libpq's own "connection refused", "server closed the connection"
        return state is None or state.startswith("08") or state in _UNAVAILABLE_SQLSTATES
    if isinstance(error, psycopg.InterfaceError):
        return "closed" in str(error)  # the connection was lost under us
    if isinstance(error, sqlite3.OperationalError):
        return str(error).lower().startswith(_SQLITE_UNAVAILABLE)
    return False


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
    root = next((e for e in _chain(error) if _means_unreachable(e)), error)
    first = _SECRET.sub(r"\1***", (str(root).strip().splitlines() or [""])[0][:200])
    return f"{type(root).__name__}: {first}"


class DatabaseOutage:
    """One process's view of whether the staging database is reachable.

    Whoever meets the failure first (a request, the scheduler) says so once in the log; the
    first success after it says once that the database is back. Everything in between stays
    quiet (a 17 s restart once logged 912 tracebacks, one per request)."""

    def __init__(self, on_down: Callable[[], None] = lambda: None) -> None:
        """``on_down``: called once per outage, e.g. to drop the pool's connections, which
        would otherwise fail one request each after the server is back."""
        self._down = False
        self._lock = threading.Lock()
        self._on_down = on_down

    @property
    def down(self) -> bool:
        return self._down

    def failed(self, error: BaseException) -> None:
        with self._lock:
            if self._down:
                return
            self._down = True
        log.warning("staging database unavailable", extra={"reason": reason_of(error)})
        self._on_down()

    def succeeded(self) -> None:
        if not self._down:  # the common case costs one attribute read
            return
        with self._lock:
            if not self._down:
                return
            self._down = False
        log.info("staging database is back")
