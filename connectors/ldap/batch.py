"""A batch of user applies whose writes go out together, ahead of the applies themselves.

One write per round trip kept the target at the speed of a round trip plus the Python work
around it, whatever the number of connections. So, for a batch the run loop hands to
``prepare``, each user's apply is first run *dry* against the batch's read-ahead: the same
:func:`connectors.ldap.users.apply_user`, on a session that sends nothing and stops at the first
request it is asked for. Where that request is a write (the add of a new user, the guarded
modify of an anchored one), it is kept; the kept writes then go out on one connection, many in
flight at once, from a thread of their own, so the directory works through them while the run
loop is already calling ``apply``.

Each ``apply`` then runs for real, exactly as without a batch: it waits for the result of its
write sent ahead, and its session hands that result over (:attr:`Session.replay`) instead of
sending the write again, but only if the apply asks for that very request, byte for byte. The
decision logic therefore exists once, every result is judged by the same code as an unbatched
write (error classes, Post-Read anchors, a failed assertion falling back to a search), and
anything a dry run cannot decide alone (a manager to look up, an entry to find by search) is
simply not sent ahead. If the connection breaks, an apply whose result was lost does not trust
the read-ahead (its write may have happened) and searches instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from ldap3.core.exceptions import LDAPException

from connectors.ldap.connection import ConnectionPool
from connectors.ldap.directory import Directory
from connectors.ldap.errors import ConnectionLostError
from connectors.ldap.mapping import Layout
from connectors.ldap.requests import Control
from connectors.ldap.responses import Entry
from connectors.ldap.session import Replay, Session
from connectors.ldap.users import apply_user
from connectors.ldap.wire import Done, Request, Result
from reconcile.errors import TargetError
from reconcile.model import DesiredIdentity

log = logging.getLogger(__name__)
Key = tuple[str, int, str | None]
_SEARCH_REQUEST = 0x63


def key(desired: DesiredIdentity, anchor: str | None) -> Key:
    """One apply of one generation of one resource, as handed to ``prepare`` and ``apply``."""
    return (desired.scim_id, desired.generation, anchor)


class _FirstRequest(Exception):
    """Not an error: how a dry apply says which request it would send first."""

    def __init__(self, request: bytes, controls: Sequence[Control]) -> None:
        self.request = request
        self.controls = tuple(controls)


class _DrySession(Session):
    """Sends nothing: stops an apply at its first request and says what it was."""

    def __init__(self) -> None:
        self.replay = None

    def _send(self, requests: Sequence[Request], done: Done | None = None) -> list[Result]:
        raise _FirstRequest(*requests[0])


def plan(
    layout: Layout,
    prefetched: dict[str, list[Entry]],
    users: Sequence[tuple[DesiredIdentity, str | None]],
) -> tuple[list[Key], list[tuple[bytes, tuple[Control, ...]]]]:
    """The first write of every user apply that needs one and can be decided from the
    read-ahead alone, by :func:`key`."""
    dry = Directory(_DrySession(), layout, dict(prefetched))  # a copy: applies pop from it
    keys: list[Key] = []
    requests: list[tuple[bytes, tuple[Control, ...]]] = []
    for desired, anchor in users:
        try:
            apply_user(dry, desired, anchor)
        except _FirstRequest as first:
            if first.request[0] != _SEARCH_REQUEST:
                keys.append(key(desired, anchor))
                requests.append((first.request, first.controls))
        except (TargetError, LDAPException, ValueError):
            continue  # the apply meets it again, and reports it
    return keys, requests


class Batch:
    """Writes in flight on one pooled connection, and their results as they arrive."""

    def __init__(
        self,
        pool: ConnectionPool,
        keys: list[Key],
        requests: list[tuple[bytes, tuple[Control, ...]]],
    ) -> None:
        self._positions = {k: i for i, k in enumerate(keys)}
        self._requests = requests
        self._results: dict[int, Result] = {}
        self._waiting: dict[int, threading.Event] = {}
        self._lock = threading.Lock()
        self._over = False
        self._thread = threading.Thread(target=self._send, args=(pool,), name="ldap-batch")
        self._thread.start()

    def _send(self, pool: ConnectionPool) -> None:
        try:
            with pool.session() as session:
                session.pipeline(self._requests, self._arrive)
        except (ConnectionLostError, LDAPException, OSError, TargetError) as exc:
            log.info("ldap batch broke", extra={"reason": str(exc)})
        finally:
            with self._lock:
                self._over = True
                waiting, self._waiting = list(self._waiting.values()), {}
            for event in waiting:
                event.set()

    def _arrive(self, position: int, result: Result) -> None:
        """Wake only the apply waiting for this result (if any is yet): eight threads woken
        for every result would fight over the interpreter for nothing."""
        with self._lock:
            self._results[position] = result
            event = self._waiting.pop(position, None)
        if event is not None:
            event.set()

    def take(self, desired: DesiredIdentity, anchor: str | None) -> tuple[bool, Replay | None]:
        """(whether this apply's write was sent ahead, its request and result once they are in
        — None if the connection broke first). Each is handed out once."""
        position = self._positions.pop(key(desired, anchor), None)
        if position is None:
            return False, None
        event = None
        with self._lock:
            if position not in self._results and not self._over:
                event = self._waiting[position] = threading.Event()
        if event is not None:
            event.wait()
        with self._lock:
            result = self._results.pop(position, None)
        request, controls = self._requests[position]
        return True, (request, controls, result) if result is not None else None

    def finish(self) -> None:
        """Wait until every write has been answered (or the connection broke)."""
        self._thread.join()
