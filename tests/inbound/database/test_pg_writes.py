"""How a write transaction's statements reach PostgreSQL: held writes go out as one statement."""

from __future__ import annotations

from typing import Any

from inbound.database.pg_writes import HeldWrites


class RecordingConnection:
    """Stands in for a psycopg connection: records what its cursors send, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[Any]]] = []

    def cursor(self) -> RecordingConnection:
        return self

    def execute(self, sql: str, params: Any = ()) -> None:
        self.sent.append((sql, list(params)))

    def executemany(self, sql: str, params: Any) -> None:
        for p in params:
            self.execute(sql, p)


def test_a_transaction_of_writes_only_is_one_statement_without_begin_or_commit() -> None:
    conn = RecordingConnection()
    writes = HeldWrites(conn)
    writes.execute("INSERT INTO a (x) VALUES (%s)", [1])
    writes.executemany("UPDATE b SET y = %s WHERE k = %s", [(2, "p"), (3, "q")])
    writes.commit()
    assert conn.sent == [
        (
            "WITH w0 AS (INSERT INTO a (x) VALUES (%s)), "
            "w1 AS (UPDATE b SET y = %s WHERE k = %s), "
            "w2 AS (UPDATE b SET y = %s WHERE k = %s) SELECT 1",
            [1, 2, "p", 3, "q"],
        )
    ]


def test_a_single_held_write_is_sent_as_it_is() -> None:
    conn = RecordingConnection()
    writes = HeldWrites(conn)
    writes.execute("DELETE FROM a WHERE k = %s", ["k"])
    writes.commit()
    assert conn.sent == [("DELETE FROM a WHERE k = %s", ["k"])]


def test_a_read_sends_the_held_writes_first_inside_a_transaction() -> None:
    conn = RecordingConnection()
    writes = HeldWrites(conn)
    writes.execute("SELECT x FROM a WHERE k = %s FOR UPDATE", ["k"])
    writes.execute("UPDATE a SET x = %s WHERE k = %s", [1, "k"])
    writes.execute("DELETE FROM m WHERE g = %s RETURNING id", ["g"])  # read: sent now
    writes.execute("INSERT INTO m (g) VALUES (%s)", ["g"])
    writes.commit()
    assert conn.sent == [
        ("BEGIN", []),
        ("SELECT x FROM a WHERE k = %s FOR UPDATE", ["k"]),
        ("UPDATE a SET x = %s WHERE k = %s", [1, "k"]),
        ("DELETE FROM m WHERE g = %s RETURNING id", ["g"]),
        ("INSERT INTO m (g) VALUES (%s)", ["g"]),
        ("COMMIT", []),
    ]


def test_nothing_to_write_sends_nothing() -> None:
    conn = RecordingConnection()
    HeldWrites(conn).commit()
    assert conn.sent == []
