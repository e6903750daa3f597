"""A batch of user applies observed, planned and written ahead, a few users at a time, in the
background.

One write per round trip kept the target at the speed of a round trip plus the Python work
around it, whatever the number of connections; and reading a whole batch before writing any of
it left the directory idle while the batch was planned, then the process idle while the
directory searched. So, for the users of a batch the run loop hands to ``prepare``:

- a *reader* thread sends the read-ahead searches of every chunk of users at once, on a
  connection of its own (the first chunk small, so the first writes go out after a few users
  are planned, not :data:`READ_CHUNK`: see :func:`chunked`); as each chunk's entries arrive, it
  observes each user from them (:mod:`connectors.ldap.observe`), plans it
  (:mod:`connectors.ldap.plan`), and passes the plans that are one add or one modify
  (:func:`connectors.ldap.execute.single_write`) on;
- a *writer* thread sends those writes on another connection, many in flight, while the reader
  plans the next chunk and the run loop's applies take their results. An add the directory
  kind must complete first (AD: the names free in the domain, a first password) waits for the
  writer to complete all those at hand at once (:meth:`DirectoryKind.prepare_adds`: one search
  per fifty for AD, instead of one per user); one whose names are taken goes to its apply. For a
  server that does not return the new entry's anchor with the add (AD), the writer reads the
  anchors of the adds it sent back in a search per fifty, instead of a read by each apply.

Each ``apply`` waits until its chunk is planned. A plan sent ahead whose write succeeded is
done; one that wrote nothing is done at once; any other plan (a move, a wait, a refusal) is
carried out by the apply itself from the same observation. A write the directory refused, or
whose result was lost (the connection broke), sends the apply back to observe afresh: its write
may have happened, or the entry changed since it was read. Users whose plan needs a manager's
DN are observed by their apply alone (the reader never searches in the middle of its reads).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ldap3.core.exceptions import LDAPException

from connectors.ldap.connection import ConnectionPool
from connectors.ldap.directory import Directory
from connectors.ldap.errors import ConnectionLostError, LdapResultError
from connectors.ldap.execute import PendingAdd, Request, add_values, single_write
from connectors.ldap.mapping import Layout
from connectors.ldap.names import dn_key
from connectors.ldap.observe import observe, references
from connectors.ldap.ownership import Ownership
from connectors.ldap.plan import LdapObserved, plan
from connectors.ldap.requests import search_request
from connectors.ldap.session import Session, added_uuid, check
from connectors.ldap.users import (
    added_anchors,
    read_ahead_entries,
    read_ahead_filters,
    read_ahead_found,
)
from connectors.ldap.wire import Result
from reconcile.changes import Change, ChangeAction
from reconcile.errors import TargetError
from reconcile.model import DesiredIdentity

log = logging.getLogger(__name__)
Users = Sequence[tuple[DesiredIdentity, str | None]]
Key = tuple[str, int, str | None]
READ_CHUNK = 50
"""Users per read-ahead search: small, so the first writes go out while the directory is still
searching for the next users; large enough that a search costs little per user."""
FIRST_CHUNK = 10
"""Users in the first read-ahead search: the writer waits for that chunk to be planned, and
meanwhile the directory, which serves one request at a time (Samba), has nothing to write."""
WAKE_EVERY = 32
"""Results handed to the applies at once: each apply then finds the next few results waiting
instead of being woken once for each (a thread woken costs the process more than its apply)."""
_BROKE = (ConnectionLostError, LdapResultError, LDAPException, OSError, TargetError)


def chunked(users: Users) -> list[Users]:
    """The batch in read-ahead chunks: :data:`FIRST_CHUNK` users, then twice as many each time,
    up to :data:`READ_CHUNK`."""
    chunks: list[Users] = []
    start, size = 0, FIRST_CHUNK
    while start < len(users):
        chunks.append(users[start : start + size])
        start += size
        size = min(READ_CHUNK, size * 2)
    return chunks


def key(desired: DesiredIdentity, anchor: str | None) -> Key:
    """One apply of one generation of one resource, as handed to ``prepare`` and ``apply``."""
    return (desired.scim_id, desired.generation, anchor)


@dataclass(frozen=True, slots=True)
class Taken:
    """What an apply finds of its batch."""

    observed: LdapObserved | None
    """None: not in the batch, or its chunk could not be read: the apply observes alone."""
    changes: list[Change] = field(default_factory=list)
    sent: Request | PendingAdd | None = None
    """The plan's one write, when it was to go ahead (a :class:`PendingAdd` never completed
    was not sent)."""
    result: Result | None = None
    """That write's result; None if it was not sent or its result was lost."""
    anchor: str = ""
    """The anchor of the entry an add ahead made, when the server did not return it with the
    add and the batch read it back."""


NOT_IN_BATCH = Taken(None)


class Batch:
    """The read-ahead, plans and writes of one batch of users, and their results."""

    def __init__(
        self,
        pool: ConnectionPool,
        layout: Layout,
        users: Users,
        ready: Callable[[Session], None],
        ownership: Ownership,
    ) -> None:
        chunks = chunked(users)
        self._layout = layout
        self._chunk_of = {
            key(d, anchor): n for n, chunk in enumerate(chunks) for d, anchor in chunk
        }
        self._planned = [threading.Event() for _ in chunks]
        self._ownership = ownership
        self._plans: dict[Key, tuple[LdapObserved, list[Change]]] = {}
        self._positions: dict[Key, int] = {}
        self._requests: list[Request | PendingAdd] = []
        self._results: dict[int, Result] = {}
        self._added: dict[int, tuple[str, str]] = {}  # position of an add -> (DN, user ID)
        self._anchors: dict[int, str] = {}
        self._alone: set[int] = set()  # pending adds the kind left to their applies
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
        attributes = [*layout.managed_attributes, layout.kind.anchor_attribute]
        requests: list[tuple[bytes, tuple[()]]] = []
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
                self._plan(session, n, chunks[n], results[n])

        session.pipeline(requests, arrived)

    def _plan(self, session: Session, n: int, chunk: Users, results: list[Result | None]) -> None:
        """Chunk ``n`` is read: observe and plan its users, hand the single writes to the
        writer, let its applies go. Nothing here talks to the directory (the session is in the
        middle of the read-ahead): users whose plan needs a search of its own are left out."""
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
        work: list[tuple[DesiredIdentity, str | None]] = []
        entries = []
        for desired, anchor in chunk:
            read = read_ahead_entries(found, desired, anchor)
            if read is not None and not references(self._layout, desired):
                work.append((desired, anchor))
                entries.append(read)
        directory = Directory(session, self._layout, self._ownership.fork())
        observed = observe(directory, work, entries) if work else []
        positions: list[int] = []
        with self._lock:
            for (desired, anchor), seen in zip(work, observed, strict=True):
                k = key(desired, anchor)
                changes = plan(self._layout, desired, seen)
                self._plans[k] = (seen, changes)
                request = single_write(self._layout, desired, seen, changes)
                if request is not None and not self._over:
                    position = len(self._requests)
                    self._positions[k] = position
                    positions.append(position)
                    self._requests.append(request)
                    create = next((c for c in changes if c.action is ChangeAction.CREATE), None)
                    if create is not None and create.moved_to:
                        self._added[position] = (create.moved_to, desired.user_id)
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
                    self._send(session, self._completed(session, sending))
                    positions = None if reader_done else self._outbox.get()
        except _BROKE as exc:
            log.info("ldap batch broke", extra={"reason": str(exc)})
        except Exception:  # a defect here must not stop the applies, which decide alone
            log.exception("ldap batch failed unexpectedly")
        finally:
            with self._lock:
                self._over = True
                waiting, self._waiting = list(self._waiting.values()), {}
            for event in waiting:
                event.set()

    def _completed(self, session: Session, positions: list[int]) -> list[int]:
        """The positions to send: pending adds completed by the directory kind, all at once
        (AD: their names checked in a search per fifty); those it leaves to their own applies
        are released to them."""
        with self._lock:
            pending = [(p, r) for p in positions if isinstance(r := self._requests[p], PendingAdd)]
        if not pending:
            return positions
        adds = [(r.desired, r.dn, add_values(r.create)) for _, r in pending]
        completed = self._layout.kind.prepare_adds(session, adds)
        alone: list[threading.Event] = []
        with self._lock:
            for (position, add), values in zip(pending, completed, strict=True):
                if values is None:
                    self._alone.add(position)
                    if (event := self._waiting.pop(position, None)) is not None:
                        alone.append(event)
                else:
                    self._requests[position] = add.request(self._layout, values)
        for event in alone:
            event.set()
        return [p for p in positions if p not in self._alone]

    def _send(self, session: Session, positions: list[int]) -> None:
        """The writes, many in flight. The result of an add the server did not return the new
        entry's anchor with (AD) is held until the anchors of all such adds are read back, in
        a search per fifty, instead of a read per add by each apply."""
        requests: list[Request] = []
        with self._lock:
            for p in positions:
                request = self._requests[p]
                assert not isinstance(request, PendingAdd)  # completed, or left out
                requests.append(request)
        held: list[tuple[int, Result]] = []
        ready: list[tuple[int, Result]] = []

        def arrived(i: int, result: Result) -> None:
            position = positions[i]
            if position in self._added and result.code == 0 and not added_uuid(result):
                held.append((position, result))
                return
            ready.append((position, result))
            if len(ready) >= WAKE_EVERY:
                self._arrive_many(ready)
                ready.clear()

        anchors: dict[int, str] = {}
        try:
            session.pipeline(requests, arrived)
            if held:
                added = [self._added[p] for p, _ in held]
                found = added_anchors(session, self._layout, added)
                anchors = {p: found.get(dn_key(self._added[p][0]), "") for p, _ in held}
        finally:  # what arrived before a break too; an add without its anchor reads its own
            self._arrive_many(ready)
            for position, result in held:
                self._arrive(position, result, anchors.get(position, ""))

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

    def _arrive_many(self, results: list[tuple[int, Result]]) -> None:
        """Hand results over and wake the applies waiting for them, a few at once."""
        with self._lock:
            self._results.update(results)
            events = [e for p, _ in results if (e := self._waiting.pop(p, None)) is not None]
        for event in events:
            event.set()

    def _arrive(self, position: int, result: Result, anchor: str = "") -> None:
        """Wake only the apply waiting for this result (if any is yet): eight threads woken
        for every result would fight over the interpreter for nothing."""
        with self._lock:
            self._results[position] = result
            if anchor:
                self._anchors[position] = anchor
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
            planned = self._plans.pop(k, None)
            position = self._positions.pop(k, None)
        if planned is None:
            return NOT_IN_BATCH
        observed, changes = planned
        if position is None:
            return Taken(observed, changes)
        event = None
        with self._lock:
            done = position in self._results or position in self._alone
            if not done and not self._over:
                event = self._waiting[position] = threading.Event()
        if event is not None:
            event.wait()
        with self._lock:
            if position in self._alone:
                return Taken(observed, changes)  # the apply adds it itself
            result = self._results.pop(position, None)
            anchor = self._anchors.pop(position, "")
            return Taken(observed, changes, self._requests[position], result, anchor)

    def finish(self) -> None:
        """Wait until every chunk was read and every write answered (or a connection broke)."""
        self._reader.join()
        self._writer.join()
