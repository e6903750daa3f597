"""Singleton jobs across processes: a PostgreSQL advisory lock, or a lease row on SQLite.

Token renewal and the full reconciliation must run once at a time however many workers run;
the database every worker already shares is the coordinator, nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, select, text, update

from inbound.staging.tables import job_leases

L = job_leases.c


class JobLock:
    def __init__(self, engine: Engine, holder: str, *, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._holder = holder
        self._clock = clock

    @contextmanager
    def hold(self, name: str, ttl: timedelta = timedelta(hours=1)) -> Iterator[bool]:
        """Yields True to the one process that may run ``name`` now, False to the others."""
        if self._engine.dialect.name == "postgresql":
            with self._advisory(name) as got:
                yield got
            return
        got = self._take_lease(name, ttl)
        try:
            yield got
        finally:
            if got:
                with self._engine.begin() as conn:
                    conn.execute(delete(job_leases).where(L.name == name, L.holder == self._holder))

    @contextmanager
    def _advisory(self, name: str) -> Iterator[bool]:
        """A session-level advisory lock: released by the server if this process dies."""
        with self._engine.connect() as conn:
            key = {"name": f"scim-sync:{name}"}
            got = bool(
                conn.execute(text("SELECT pg_try_advisory_lock(hashtext(:name))"), key).scalar()
            )
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(hashtext(:name))"), key)
                    conn.commit()

    def _take_lease(self, name: str, ttl: timedelta) -> bool:
        """On SQLite the write lock serialises this; an expired lease (a dead holder) is taken."""
        now = self._clock()
        with self._engine.begin() as conn:
            row = conn.execute(select(L.holder, L.expires_at).where(L.name == name)).first()
            if row is None:
                conn.execute(
                    insert(job_leases).values(name=name, holder=self._holder, expires_at=now + ttl)
                )
                return True
            if row.holder == self._holder or row.expires_at <= now:
                conn.execute(
                    update(job_leases)
                    .where(L.name == name)
                    .values(holder=self._holder, expires_at=now + ttl)
                )
                return True
        return False
