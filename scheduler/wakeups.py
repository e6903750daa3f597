"""Cross-process nudges: a worker hears about SCIM writes made by a separate ``web`` process.

In ``serve`` the receiver nudges the scheduler directly. With ``web`` and ``worker`` split,
PostgreSQL delivers a NOTIFY on every committed write (``LISTEN scim_sync_changes``); on SQLite
``PRAGMA data_version`` changes whenever another connection commits, which is cheap to watch.
Either way a change lands in seconds, not at the next reconcile tick.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from sqlalchemy import Engine

from inbound.staging.ledger import CHANGES_CHANNEL

log = logging.getLogger(__name__)


class ChangeListener:
    def __init__(self, engine: Engine, on_change: Callable[[], None], *, poll_seconds: float = 0.5):
        self._engine = engine
        self._on_change = on_change
        self._poll = poll_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="change-listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._engine.dialect.name == "postgresql":
                    self._listen()
                else:
                    self._watch_sqlite()
            except Exception:  # the database went away: try again after a pause
                log.warning("change listener lost its connection; reconnecting", exc_info=True)
                self._stop.wait(5)

    def _listen(self) -> None:
        url = self._engine.url.set(drivername="postgresql")
        dsn = url.render_as_string(hide_password=False)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"LISTEN {CHANGES_CHANNEL}")
            while not self._stop.is_set():
                if any(True for _ in conn.notifies(timeout=self._poll, stop_after=1)):
                    self._on_change()

    def _watch_sqlite(self) -> None:
        with self._engine.connect() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            last = raw.execute("PRAGMA data_version").fetchone()
            while not self._stop.wait(self._poll):
                now = raw.execute("PRAGMA data_version").fetchone()
                if now != last:
                    last = now
                    self._on_change()
