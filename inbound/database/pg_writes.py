"""One PostgreSQL write transaction sent as few statements as possible.

A SCIM create is six statements (the resource, its attribute index, the audit row, the ledger
rows, BEGIN and COMMIT). Sent one by one, each statement cost the client (psycopg's send and
poll) and the server (parse, bind, execute, a protocol message) more than its row: about
600 µs of Python per create. Writes whose results nobody reads are therefore held back and
sent at the end as a single statement of data-modifying ``WITH`` clauses (PostgreSQL runs them
as one statement, all or nothing). A transaction made only of such writes needs no BEGIN or
COMMIT at all: one statement, one round trip.

A statement whose result is read (a ``SELECT``, ``FOR UPDATE``, ``RETURNING``) first sends
the held writes, opening a transaction, so it always sees them; the rest is then sent with the
COMMIT. Clauses of one ``WITH`` do not see each other's rows, so two held writes must never
touch the same row: the store's writes within one request touch distinct rows (one resource
row, its index rows deleted or added, one audit row, one ledger row per target), and member
deletes, which could meet the inserts of the same request, read their ``RETURNING`` rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE")


def _can_hold(sql: str) -> bool:
    head = sql.lstrip()[:6].upper()
    return head.startswith(_WRITE_VERBS) and "RETURNING" not in sql.upper()


class HeldWrites:
    """A cursor for one write transaction on a psycopg connection in pipeline mode."""

    def __init__(self, connection: Any, *, begun: bool = False) -> None:
        """``begun``: the transaction is already open (a group commit's), and this cursor
        neither opens nor commits it."""
        self.connection = connection
        self._cursor = connection.cursor()
        self._held: list[tuple[str, Sequence[Any]]] = []
        self._begun = begun

    # the DBAPI cursor methods the store uses
    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        if _can_hold(sql):
            self._held.append((sql, params))
            return
        self._send_held()
        self._cursor.execute(sql, params)

    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> None:
        if _can_hold(sql):
            self._held.extend((sql, p) for p in params)
            return
        self._send_held()
        self._cursor.executemany(sql, params)

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return list(self._cursor.fetchall())

    def commit(self) -> None:
        self.send()
        if self._begun:
            self._cursor.execute("COMMIT")

    def send(self) -> None:
        """Queue the held writes as one statement, without waiting for its answer."""
        if self._held:
            self._cursor.execute(*_combined(self._held))
            self._held.clear()

    def _send_held(self) -> None:
        if not self._begun:
            self._cursor.execute("BEGIN")
            self._begun = True
        if self._held:
            self._cursor.execute(*_combined(self._held))
            self._held.clear()


def _combined(held: list[tuple[str, Sequence[Any]]]) -> tuple[str, list[Any]]:
    params = [value for _sql, values in held for value in values]
    if len(held) == 1:
        return held[0][0], params
    clauses = ", ".join(f"w{i} AS ({sql})" for i, (sql, _values) in enumerate(held))
    return f"WITH {clauses} SELECT 1", params
