"""Locks between processes: singleton jobs, and the order multi-row writes lock rows in.

Token renewal and the full reconciliation must run once at a time however many workers run;
the database every worker already shares is the coordinator, nothing else: a PostgreSQL
advisory lock, or a lease row on SQLite.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, text, update

from inbound.staging.tables import job_leases, sync_state

L = job_leases.c
S = sync_state.c


def lock_in_key_order(conn: Connection, *where: Any) -> None:
    """Lock the ``sync_state`` rows a multi-row write is about to change, in key order.

    PostgreSQL locks the rows of an UPDATE or DELETE in whatever order its plan visits them,
    so two transactions changing overlapping rows can each hold one the other wants
    (``deadlock detected``). Every multi-row write of the ledger, and a SCIM write batch
    (``StoredReader.lock_ahead``), first takes its rows' locks ordered by
    ``(target, scim_id)``: waits then all point the same way and cannot form a circle.
    SQLite serialises writers at BEGIN, so there is nothing to order there."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            select(S.target, S.scim_id)
            .where(*where)
            .order_by(S.target, S.scim_id)
            .with_for_update()
        )


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
