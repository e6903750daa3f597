"""A batch of user applies read ahead and written ahead, a few users at a time, in the background.

One write per round trip kept the target at the speed of a round trip plus the Python work
around it, whatever the number of connections; and reading a whole batch before writing any of
it left the directory idle while the batch was planned, then the process idle while the
directory searched. So, for the users of a batch the run loop hands to ``prepare``:

- a *reader* thread sends the read-ahead searches of every chunk of :data:`READ_CHUNK` users at
  once, on a connection of its own; as each chunk's entries arrive, it runs each user's apply dry
  against them (:mod:`connectors.ldap.plan`) and passes the writes found on;
- a *writer* thread sends those writes on another connection, many in flight, while the reader
  plans the next chunk and the run loop's applies take their results.

Each ``apply`` waits until its chunk is planned, then for the result of its write sent ahead,
and runs for real exactly as without a batch: its session hands the result over
(:attr:`Session.replay`) instead of sending the write again, only if the apply asks for that very
request, byte for byte. Where the dry run already returned after a plain success and the real
result is exactly that, the dry run's outcome stands (the same code decided it). An apply whose
chunk could not be read decides alone; one whose write's result was lost (the connection broke)
does not trust the read-ahead, since its write may have happened, and searches instead.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ldap3.core.exceptions import LDAPException

from connectors.ldap.connection import ConnectionPool
from connectors.ldap.errors import ConnectionLostError, LdapResultError
from connectors.ldap.mapping import Layout
from connectors.ldap.ownership import Ownership
from connectors.ldap.plan import PLAIN_SUCCESS, Key, key, plan
from connectors.ldap.requests import Control, search_request
from connectors.ldap.responses import Entry
from connectors.ldap.session import Replay, Session, check
from connectors.ldap.users import read_ahead_filters, read_ahead_found
from connectors.ldap.wire import Request, Result
from reconcile.errors import TargetError
from reconcile.model import DesiredIdentity
from reconcile.ports import Applied

log = logging.getLogger(__name__)
Users = Sequence[tuple[DesiredIdentity, str | None]]
READ_CHUNK = 50
"""Users per read-ahead search: small, so the first writes go out while the directory is still
searching for the next users; large enough that a search costs little per user."""
_BROKE = (ConnectionLostError, LdapResultError, LDAPException, OSError, TargetError)


@dataclass(frozen=True, slots=True)
class Taken:
    """What an apply finds of its batch."""

    sent_ahead: bool
    replay: Replay | None
    """Its write and the write's result; None if not sent ahead, or if the result was lost."""
    foreseen: Applied | None
    """The apply's outcome when its write met exactly the plain success its dry run was
    given: the apply would decide the same again, so it need not run a second time."""
    prefetched: dict[str, list[Entry]] | None
    """Its chunk's read-ahead, for :class:`Directory`; None when there is none to trust."""
    ownership: Ownership | None = None
    """Who holds the entries its chunk found by name, asked once for the whole chunk."""


NOT_IN_BATCH = Taken(False, None, None, None)


class Batch:
    """The read-ahead and writes of one batch of users, and their results as they arrive."""

    def __init__(
        self,
        pool: ConnectionPool,
        layout: Layout,
        users: Users,
        ready: Callable[[Session], None],
        ownership: Ownership,
    ) -> None:
        chunks = [users[i : i + READ_CHUNK] for i in range(0, len(users), READ_CHUNK)]
        self._layout = layout
        self._chunk_of = {
            key(d, anchor): n for n, chunk in enumerate(chunks) for d, anchor in chunk
        }
        self._planned = [threading.Event() for _ in chunks]
        self._read: list[dict[str, list[Entry]] | None] = [None] * len(chunks)
        self._ownership = ownership
        self._owners: list[Ownership | None] = [None] * len(chunks)
        self._positions: dict[Key, int] = {}
        self._requests: list[tuple[bytes, tuple[Control, ...]]] = []
        self._foreseen: list[Applied | None] = []
        self._results: dict[int, Result] = {}
        self._waiting: dict[int, threading.Event] = {}
        self._lock = threading.Lock()
        self._over = False  # the writer has stopped: no result comes any more
        self._outbox: queue.SimpleQueue[list[int] | None] = queue.SimpleQueue()
        self._reader = threading.Thread(
            target=self._read_ahead, args=(pool, chunks, ready), name="ldap-read-ahead"
        )
        self._writer = threading.Thread(target=self._write, args=(pool,), name="ldap-batch")
        self._reader.start()
        self._writer.start()

    # the reader

    def _read_ahead(
        self, pool: ConnectionPool, chunks: list[Users], ready: Callable[[Session], None]
    ) -> None:
        try:
            with pool.session() as session:
                ready(session)
                self._search(session, chunks)
        except _BROKE as exc:
            log.info("ldap lookup ahead failed", extra={"reason": str(exc)})
        except Exception:  # a defect here must not stop the applies, which decide alone
            log.exception("ldap lookup ahead failed unexpectedly")
        finally:
            for event in self._planned:
                event.set()  # a chunk not read: its applies decide alone
            self._outbox.put(None)

    def _search(self, session: Session, chunks: list[Users]) -> None:
        """Every chunk's searches at once; each chunk planned as soon as its results are in."""
        layout = self._layout
        attributes = [*layout.managed_attributes, "entryUUID"]
        requests: list[Request] = []
        owners: list[tuple[int, int]] = []  # (chunk, 0 by name / 1 by anchor) of each search
        for n, chunk in enumerate(chunks):
            for kind, search_filter in enumerate(read_ahead_filters(layout, chunk)):
                if search_filter is not None:
                    requests.append((search_request(layout.base_dn, search_filter, attributes), ()))
                    owners.append((n, kind))
        missing = [0] * len(chunks)
        for n, _ in owners:
            missing[n] += 1
        results: list[list[Result | None]] = [[None, None] for _ in chunks]

        def arrived(position: int, result: Result) -> None:
            n, kind = owners[position]
            results[n][kind] = result
            missing[n] -= 1
            if missing[n] == 0:
                self._plan(n, chunks[n], results[n])

        session.pipeline(requests, arrived)

    def _plan(self, n: int, chunk: Users, results: list[Result | None]) -> None:
        """Chunk ``n`` is read: plan its writes, hand them to the writer, let its applies go."""
        try:
            for result in results:
                if result is not None:
                    check("search", self._layout.base_dn, result)
        except LdapResultError as exc:
            log.info("ldap lookup ahead failed", extra={"reason": str(exc)})
            self._planned[n].set()  # not read: its applies decide alone
            return
        by_name, by_anchor = ([] if r is None else r.entries for r in results)
        found = read_ahead_found(self._layout, chunk, by_name, by_anchor)
        ownership = self._ownership.fork().learn(
            anchors=[e.entry_uuid for e in by_name],
            scim_ids=[d.manager_scim_id for d, _ in chunk if d.manager_scim_id],
        )
        planned = plan(self._layout, found, chunk, ownership)
        positions: list[int] = []
        with self._lock:
            self._read[n] = found
            self._owners[n] = ownership
            if not self._over:
                for k, request, foreseen in zip(
                    planned.keys, planned.requests, planned.foreseen, strict=True
                ):
                    self._positions[k] = len(self._requests)
                    positions.append(len(self._requests))
                    self._requests.append(request)
                    self._foreseen.append(foreseen)
        if positions:
            self._outbox.put(positions)
        self._planned[n].set()

    # the writer

    def _write(self, pool: ConnectionPool) -> None:
        try:
            first = self._outbox.get()
            if first is None:
                return  # nothing to write: no connection taken
            with pool.session() as session:
                positions: list[int] | None = first
                while positions is not None:
                    sending, reader_done = self._gather(positions)
                    with self._lock:
                        requests = [self._requests[p] for p in sending]

                    def arrived(i: int, result: Result, sent: list[int] = sending) -> None:
                        self._arrive(sent[i], result)

                    session.pipeline(requests, arrived)
                    positions = None if reader_done else self._outbox.get()
        except _BROKE as exc:
            log.info("ldap batch broke", extra={"reason": str(exc)})
        finally:
            with self._lock:
                self._over = True
                waiting, self._waiting = list(self._waiting.values()), {}
            for event in waiting:
                event.set()

    def _gather(self, positions: list[int]) -> tuple[list[int], bool]:
        """``positions`` and those of every other chunk already planned, to send together;
        and whether the reader is done."""
        gathered = list(positions)
        while True:
            try:
                more = self._outbox.get_nowait()
            except queue.Empty:
                return gathered, False
            if more is None:
                return gathered, True
            gathered.extend(more)

    def _arrive(self, position: int, result: Result) -> None:
        """Wake only the apply waiting for this result (if any is yet): eight threads woken
        for every result would fight over the interpreter for nothing."""
        with self._lock:
            self._results[position] = result
            event = self._waiting.pop(position, None)
        if event is not None:
            event.set()

    # the applies

    def take(self, desired: DesiredIdentity, anchor: str | None) -> Taken:
        """What this apply finds of its batch, once its chunk is planned and its write (if it
        was sent ahead) answered. Each is handed out once."""
        k = key(desired, anchor)
        n = self._chunk_of.pop(k, None)
        if n is None:
            return NOT_IN_BATCH
        self._planned[n].wait()
        with self._lock:
            position = self._positions.pop(k, None)
            prefetched = self._read[n]
            known = self._owners[n]
        ownership = known.fork() if known is not None else None
        if position is None:
            return Taken(False, None, None, prefetched, ownership)
        event = None
        with self._lock:
            if position not in self._results and not self._over:
                event = self._waiting[position] = threading.Event()
        if event is not None:
            event.wait()
        with self._lock:
            result = self._results.pop(position, None)
        if result is None:
            return Taken(True, None, None, None)
        request, controls = self._requests[position]
        foreseen = self._foreseen[position] if result == PLAIN_SUCCESS else None
        return Taken(True, (request, controls, result), foreseen, prefetched, ownership)

    def finish(self) -> None:
        """Wait until every chunk was read and every write answered (or a connection broke)."""
        self._reader.join()
        self._writer.join()
