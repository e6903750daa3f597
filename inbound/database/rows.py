"""The staging store's hot statements, run on the DBAPI connection with precompiled SQL.

Entra's traffic is a handful of statement shapes — a lookup by userName, externalId or id, an
insert, an update, an index rewrite, a membership delta. Building them through SQLAlchemy's
expression layer cost more than the database work (≈2 ms of a 2.2 ms GET here); as fixed SQL
text with bound parameters they cost microseconds. The tables are still defined once, in
:mod:`inbound.database.tables`, and every other query keeps using SQLAlchemy Core.
Values are converted exactly as the SQLAlchemy column types convert them, so rows written
here read back identically through either path.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import Engine

from inbound.database.pg_writes import HeldWrites
from inbound.timestamps import utc_text

COLUMNS = "scim_id, data, generation, created_at, updated_at"
IDLE_BEFORE_PING = 5.0
"""Seconds the kept PostgreSQL connection may sit unused before it is checked."""
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


@dataclass(slots=True)
class GroupCommit:
    """An open group commit: the one transaction the concurrent writes of a turn of the event
    loop share (:meth:`Rows.group_commit`)."""

    isolates_failures: bool
    """Whether a write that fails inside the group rolls back alone (SQLite savepoints); if
    not, the whole group must be rolled back and its writes run again."""
    broken: bool = False
    """A write failed inside a group that does not isolate failures, even if its caller
    went on: the group must not commit."""
    marks_failures: bool = False
    """Every failure inside a write transaction sets ``broken`` (a bare SQLite group): an
    error raised outside one wrote nothing, and the group may go on without it."""
    connection: Any = None
    hooks: list[Callable[[], None]] = field(default_factory=list)
    ahead: dict[str, Sequence[Any]] = field(default_factory=dict)
    """Rows read and locked for the group's writes before they ran, by ``scim_id``."""


class DuplicateError(Exception):
    """A unique index refused a row (the live-name index, or a primary key)."""


class Rows:
    """Dialect-aware conversions and a transaction on a pooled DBAPI connection."""

    _last_time: tuple[datetime | None, Any] = (None, None)
    """The last moment :meth:`time_in` converted: a write stores its one ``now`` three times
    or more (row, audit, ledger). A tuple, so threads swap it whole."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self._owner: int | None = None
        self._held: Any = None
        self._held_used_at = 0.0
        self._claim = threading.Lock()
        self._local = threading.local()
        """``group_commit``: the group commit this thread has open, if any."""
        self._writer: int | None = None
        self._writer_held: Any = None

    def claim(self) -> None:
        """Make the calling thread the one that keeps the connection for reads: the web app's
        startup calls it from the event loop's thread, so that
        no other thread that happened to use the store first keeps it instead. Called while
        no request is running; the previous owner borrows from the pool from then on."""
        with self._claim:
            self._owner = threading.get_ident()

    def claim_writer(self) -> None:
        """SQLite: make the calling thread the one that writes SCIM changes, on a connection
        of its own that it keeps (group commits are opened there).

        SQLite has one writer at a time, so one thread writes: the event loop hands each
        group commit over to it and goes on parsing and answering while the group runs and
        commits (sqlite3 lets go of the GIL inside SQLite). Writing in the loop itself left
        it idle while clients turned a group's answers into their next requests, and made
        it wait whenever another process held the write lock."""
        self._writer = threading.get_ident()

    def _connection(self) -> tuple[Any, bool]:
        """A DBAPI connection and whether to give it back after use.

        The thread that claimed it, else the first thread to use the store (the event loop's,
        which makes every SCIM read), keeps one connection: a pool checkout and return cost as
        much as the query itself on SQLite, and a sixth of a GET on PostgreSQL. Any other
        thread borrows from the pool. On PostgreSQL the kept connection serves reads only, in
        autocommit.
        """
        me = threading.get_ident()
        if me == self._writer:
            if self._writer_held is None:
                self._writer_held = self.engine.raw_connection()
            return self._writer_held, False
        with self._claim:
            if self._owner is None:
                self._owner = me
        if self._owner != me:
            return self.engine.raw_connection(), True
        if self.sqlite:
            if self._held is None:
                self._held = self.engine.raw_connection()
            return self._held, False
        return self._kept_pg_connection(), False

    def _kept_pg_connection(self) -> Any:
        """Checked with a query after an idle spell (a server restart or a dropped link
        leaves it dead), and replaced when psycopg knows it is broken."""
        now, held = time.monotonic(), self._held
        if held is not None:
            pg = held.driver_connection
            try:
                if pg.broken or pg.closed:
                    raise psycopg.OperationalError("the kept connection is broken")
                if now - self._held_used_at > IDLE_BEFORE_PING:
                    pg.execute("SELECT 1")
            except psycopg.Error:
                held.invalidate()
                # forgotten before a new one is asked for: while the server is down that
                # fails too, and the next request must ask again, not reuse the dead one
                held = self._held = None
        if held is None:
            held = self.engine.raw_connection()
            fresh: Any = held.driver_connection
            fresh.autocommit = True
        self._held, self._held_used_at = held, now
        return held

    def close(self) -> None:
        """Give the kept connections back (before the engine is disposed)."""
        writer_held, self._writer_held = self._writer_held, None
        if writer_held is not None:
            writer_held.close()
        held, self._held = self._held, None
        if held is not None:
            if not self.sqlite and not held.driver_connection.closed:
                held.driver_connection.autocommit = False
            held.close()

    # ---- statements ----------------------------------------------------------------

    def sql(self, text: str) -> str:
        """Statements are written with ``?``; psycopg wants ``%s``."""
        return text if self.sqlite else text.replace("?", "%s")

    def marks(self, count: int) -> str:
        return ", ".join(["?"] * count)

    # ---- conversions ---------------------------------------------------------------

    def json_in(self, value: Any) -> Any:
        return _encode(value).decode() if self.sqlite else Jsonb(value)

    def json_out(self, value: Any) -> Any:
        if isinstance(value, str | bytes):
            return _decode(value)
        return value

    def time_in(self, moment: datetime) -> Any:
        last, converted = self._last_time
        if last is moment:
            return converted
        utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
        if not self.sqlite:
            converted = utc
        else:
            # as SQLAlchemy writes it: naive UTC text, always with microseconds
            text = utc_text(utc, " ", always_fraction=True)
            converted = (
                utc.replace(tzinfo=None).isoformat(" ", "microseconds") if text is None else text
            )
        self._last_time = (moment, converted)
        return converted

    @staticmethod
    def time_out(value: Any) -> datetime:
        """SQLite returns UTC as naive text: reading it with an offset appended is a tenth of
        the cost of ``replace(tzinfo=UTC)`` afterwards, which showed in profiles of a GET."""
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value + "+00:00")
            except ValueError:  # the text names its own offset
                moment = datetime.fromisoformat(value)
        else:
            moment = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    def bool_in(self, value: bool) -> Any:
        return int(value) if self.sqlite else value

    # ---- transactions --------------------------------------------------------------

    def transaction(self, *, write: bool) -> AbstractContextManager[Any]:
        """A cursor inside one transaction.

        SQLite writers take the lock at BEGIN (see ``scheduler.db``) so two writers queue
        instead of failing a lock upgrade. PostgreSQL reads run in autocommit (no BEGIN and
        COMMIT round trips); writes run in psycopg's pipeline mode through
        :class:`~inbound.database.pg_writes.HeldWrites`: a create is one statement and one round
        trip, a PATCH two round trips (read the row, then everything else with the COMMIT).
        Errors of sent statements surface at the next read or at the end, and roll the whole
        transaction back either way.
        """
        if self.sqlite:
            if not write:
                return _SqliteRead(*self._connection())
            return self._sqlite_transaction()
        return self._pg_transaction(write)

    @contextmanager
    def _pg_transaction(self, write: bool) -> Iterator[Any]:
        group = self.open_group_commit()
        if group is not None:  # inside the group's transaction, seeing its earlier writes
            if not write:
                yield group.connection.cursor()
                return
            held = HeldWrites(group.connection, begun=True)
            yield held
            held.send()
            return
        if not write:
            with self._pg_read() as cursor:
                yield cursor
            return
        try:
            with self._pg_pipeline() as pg:
                cursor = HeldWrites(pg)
                yield cursor
                cursor.commit()
        except psycopg.errors.UniqueViolation as exc:
            raise DuplicateError(str(exc)) from exc

    @contextmanager
    def _pg_pipeline(self) -> Iterator[Any]:
        """A pooled psycopg connection in pipeline mode for one write transaction, which the
        caller opens and commits with statements of its own; rolled back if anything fails,
        and never handed back to the pool broken.

        Autocommit, so psycopg sends no BEGIN of its own: in pipeline mode it would wait for
        that BEGIN's answer, while ours is queued with the rest."""
        conn = self.engine.raw_connection()
        pg: Any = conn.driver_connection
        pg.autocommit = True
        try:
            try:
                with pg.pipeline():
                    yield pg
            except BaseException:
                if pg.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    pg.execute("ROLLBACK")
                raise
        except psycopg.OperationalError:
            conn.invalidate()
            raise
        finally:
            if not pg.closed:
                pg.autocommit = False
            conn.close()

    @contextmanager
    def _pg_read(self) -> Iterator[Any]:
        """A cursor in autocommit: each statement of a read is its own transaction."""
        conn, give_back = self._connection()
        pg: Any = conn.driver_connection
        if give_back:
            pg.autocommit = True
        try:
            yield pg.cursor()
        except psycopg.OperationalError:
            conn.invalidate()  # never use a broken connection again
            if not give_back:
                self._held = None
            raise
        finally:
            if give_back:
                if not pg.closed:
                    pg.autocommit = False
                conn.close()

    @contextmanager
    def group_commit(self, isolate: bool = True) -> Iterator[GroupCommit]:
        """One transaction around several writes of this thread (group commit).

        The group's writes share one BEGIN, one COMMIT, and every page they all touch: a
        commit writes each dirtied page to the WAL, and a create dirties some thirty (the row,
        its index entries, the audit and ledger rows).
        On SQLite (on a thread that keeps its connection: the writer, see
        :meth:`claim_writer`), with ``isolate`` each write inside is a SAVEPOINT, so a refused
        write rolls back alone. Without it the writes run bare: a savepoint copies every page
        its write touches into a sub-journal first, about a fifth of SQLite's work for a
        create, paid on the chance that the write fails. The caller rolls such a group back
        when one of its writes fails and runs it again isolated.
        On PostgreSQL the writes share a connection, one pipeline, BEGIN and COMMIT (one WAL
        flush); an error there cannot be undone for one write alone, so the group never
        isolates failures and the caller runs its writes again one by one.
        Nothing is acknowledged before the COMMIT; hooks given to :meth:`after_commit` run
        after it, once each."""
        current = self.open_group_commit()
        if current is not None:
            yield current
            return
        opened = (
            self._open_sqlite_group_commit(isolate) if self.sqlite else self._open_pg_group_commit()
        )
        with opened as group:
            if group is None:  # SQLite, on a thread that borrows its connection
                yield GroupCommit(isolates_failures=True)
                return
            self._local.group_commit = group
            try:
                yield group
            finally:
                self._local.group_commit = None
        for hook in {id(hook): hook for hook in group.hooks}.values():
            hook()

    @contextmanager
    def _open_sqlite_group_commit(self, isolate: bool) -> Iterator[GroupCommit | None]:
        conn, give_back = self._connection()
        if give_back:
            conn.close()
            yield None
            return
        cursor = conn.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            group = GroupCommit(isolates_failures=isolate, marks_failures=not isolate)
            yield group
            if group.broken:
                raise sqlite3.OperationalError("a write of the group failed; nothing committed")
            cursor.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                cursor.execute("ROLLBACK")
            raise

    @contextmanager
    def _open_pg_group_commit(self) -> Iterator[GroupCommit]:
        with self._pg_pipeline() as pg:
            pg.cursor().execute("BEGIN")
            yield GroupCommit(isolates_failures=False, connection=pg)
            pg.cursor().execute("COMMIT")

    def open_group_commit(self) -> GroupCommit | None:
        """The group commit this thread has open, if any."""
        group: GroupCommit | None = getattr(self._local, "group_commit", None)
        return group

    def after_commit(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` once the current write is durable: now, or after the open group
        commits (once per group, however many writes asked)."""
        group = self.open_group_commit()
        if group is not None:
            group.hooks.append(hook)
        else:
            hook()

    @contextmanager
    def _sqlite_transaction(self) -> Iterator[Any]:
        """Writes take the lock at BEGIN (reads: :class:`_SqliteRead`)."""
        conn, give_back = self._connection()
        group = None if give_back else self.open_group_commit()
        if group is not None and not group.isolates_failures:
            yield from self._bare_write(conn, group)
            return
        begin, commit, rollback = (
            ("SAVEPOINT w", "RELEASE w", "ROLLBACK TO w; RELEASE w")
            if group is not None
            else ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK")
        )
        try:
            cursor = conn.cursor()
            if group is not None and not conn.in_transaction:
                # an error inside the group made SQLite roll all of it back: a SAVEPOINT now
                # would open a new transaction, and commit this write while the group fails
                raise sqlite3.OperationalError("the group commit was rolled back")
            cursor.execute(begin)
            try:
                yield cursor
            except BaseException:
                if conn.in_transaction:
                    for statement in rollback.split("; "):
                        cursor.execute(statement)
                raise
            cursor.execute(commit)
        except sqlite3.IntegrityError as exc:
            raise DuplicateError(str(exc)) from exc
        finally:
            if give_back:
                conn.close()

    @staticmethod
    def _bare_write(conn: Any, group: GroupCommit) -> Iterator[Any]:
        """A write inside a group without savepoints: any failure breaks the whole group."""
        try:
            if not conn.in_transaction:
                raise sqlite3.OperationalError("the group commit was rolled back")
            yield conn.cursor()
        except BaseException as exc:
            group.broken = True
            if isinstance(exc, sqlite3.IntegrityError):
                raise DuplicateError(str(exc)) from exc
            raise

    def select_in(self, cursor: Any, head: str, ids: Sequence[str], tail: str = "") -> list[Any]:
        """``head`` ends with ``IN``; ``ids`` become that many bound parameters."""
        if not ids:
            return []
        cursor.execute(self.sql(f"{head} ({self.marks(len(ids))}) {tail}"), list(ids))
        return list(cursor.fetchall())


class _SqliteRead:
    """A SQLite read: a cursor without BEGIN and COMMIT (each statement is its own
    transaction), which halves the statements of a lookup. As on PostgreSQL, a read of several
    statements may see a write that committed between two of them; each statement sees
    committed state only.

    A class rather than a generator context manager, and a cursor of the sqlite3 connection
    itself rather than of the pool's proxy: this wraps every SCIM read, and those two layers
    cost a GET by ``userName`` more than SQLite's own work for it."""

    __slots__ = ("_connection", "_give_back")

    def __init__(self, connection: Any, give_back: bool) -> None:
        self._connection = connection
        self._give_back = give_back

    def __enter__(self) -> Any:
        return self._connection.driver_connection.cursor()

    def __exit__(self, *exc: object) -> None:
        if self._give_back:
            self._connection.close()
