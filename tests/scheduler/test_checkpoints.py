"""The checkpoint thread moves the write-ahead log into the database file, while the writers'
own automatic checkpoints are pushed out of the way."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

from sqlalchemy import text

from scheduler import db
from scheduler.checkpoints import BACKSTOP_PAGES


def _running() -> bool:
    return any(t.name == "sqlite-checkpoints" for t in threading.enumerate())


def test_the_thread_checkpoints_and_stops_with_the_engine(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    engine = db.make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (v TEXT)"))
    # an open connection of our own keeps SQLite from checkpointing when the engine's close
    watcher = sqlite3.connect(path)
    watcher.execute("SELECT count(*) FROM t").fetchone()
    with engine.begin() as conn:
        assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == BACKSTOP_PAGES
        conn.execute(text("INSERT INTO t VALUES ('x')"))
    assert _running()
    engine.dispose()  # the thread stops after a last checkpoint
    assert not _running()
    shutil.copy(path, tmp_path / "file-only.db")  # the database file without its log
    copy = sqlite3.connect(tmp_path / "file-only.db")
    assert copy.execute("SELECT v FROM t").fetchall() == [("x",)]
    copy.close()
    watcher.close()


def test_memory_databases_get_no_thread() -> None:
    engine = db.make_engine("sqlite://")
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        assert not _running()
    engine.dispose()
