"""SQLite as the engine sets it up: a group commit's savepoints journal in memory."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import cast

from sqlalchemy import text

from scheduler import db


def _write_calls() -> int:
    """Write system calls this process made so far (Linux)."""
    fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    return int(fields["syscw"])


def test_savepoints_write_nothing_before_the_commit(tmp_path: Path) -> None:
    """Each write of a group commit runs in a savepoint; SQLite journals the pages a savepoint
    touches, into a temporary file once they pass 64 KiB. On disk that sub-journal cost two
    write calls per page, more than the write-ahead log itself; in memory, nothing reaches the
    disk before the COMMIT."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 't.db'}")
    try:
        raw = engine.raw_connection()
        # SQLAlchemy types the driver's connection as optional; a live one on SQLite is sqlite3's
        cursor = cast(sqlite3.Connection, raw.driver_connection).cursor()
        cursor.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT)")
        cursor.execute("BEGIN")
        cursor.executemany(
            "INSERT INTO t VALUES (?, ?)", ((f"k{n:04}", "v" * 900) for n in range(400))
        )
        cursor.execute("COMMIT")
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the checkpoint thread has nothing to do
        cursor.execute("BEGIN IMMEDIATE")
        before = _write_calls()
        for n in range(10):  # a create changes some twenty pages the file holds: so do these
            cursor.execute("SAVEPOINT w")
            cursor.executemany(
                "UPDATE t SET v = ? WHERE k = ?",
                ((f"{n}" * 900, f"k{row:04}") for row in range(n, 400, 16)),
            )
            cursor.execute("RELEASE w")
        during = _write_calls() - before
        cursor.execute("COMMIT")
        assert cursor.execute("SELECT count(*) FROM t").fetchone() == (400,)
        raw.close()
        assert during < 5, f"{during} write calls before the COMMIT"
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA temp_store")).scalar() == 2  # MEMORY
            assert conn.execute(text("PRAGMA cache_size")).scalar() == -db.PAGE_CACHE_KIB
    finally:
        engine.dispose()
