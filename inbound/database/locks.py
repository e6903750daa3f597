"""Locks between processes: jobs that run once at a time, and the order multi-row writes lock
rows in."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, text, update

from inbound.database.service_tables import job_leases
from inbound.database.tables import sync_state

L = job_leases.c
S = sync_state.c


def lock_in_key_order(conn: Connection, *where: Any) -> None:
    """Lock the ``sync_state`` rows a multi-row write is about to change, in key order.

    PostgreSQL locks the rows of an UPDATE or DELETE in whatever order its plan visits them,
    so two transactions changing overlapping rows can each hold one the other wants
    (``deadlock detected``). Every multi-row write of the ledger, and a SCIM group commit
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
    """The one way a job runs in one process at a time: the full reconciliation, token
    renewal, the Entra watch and the alert webhook, however many web and worker processes
    share the database (the database is the only coordinator they all have).

    PostgreSQL: a *transaction*-scoped advisory lock, held by a connection kept in an open
    transaction for the job's duration. The server drops it when that transaction ends for
    any reason: the job finishes, the job raises (the pool rolls the connection back), or the
    holder dies and its connection closes. A session-scoped lock would survive a failed
    unlock inside a pooled connection and block the job everywhere until that connection is
    recycled. The open transaction has no snapshot between statements and no transaction
    id, so it holds nothing back from vacuum. Its key hashes the lock's name with
    ``current_schema()``: two installations in different schemas of one database each get
    their own lock. (A server ``idle_in_transaction_session_timeout`` shorter than the
    longest job would end the lock early; the default is off.)

    SQLite (one file, no server to notice a dead holder): a row in ``job_leases`` that
    expires after ``ttl``, written under ``BEGIN IMMEDIATE`` so two takers are serialised; a
    crashed holder's lease is taken over once it expires. Each hold writes its own token,
    so two holds in one process exclude each other like two processes do, and a release
    never deletes somebody else's lease. ``ttl`` must outlast the job.
    """

    def __init__(self, engine: Engine, holder: str, *, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._holder = holder[:40]
        """Who holds a SQLite lease, for an operator reading ``job_leases``."""
        self._clock = clock

    @contextmanager
    def hold(self, name: str, ttl: timedelta = timedelta(hours=1)) -> Iterator[bool]:
        """Yields True to the one process that may run ``name`` now, False to the others."""
        if self._engine.dialect.name == "postgresql":
            with self._engine.connect() as conn, conn.begin():
                yield bool(
                    conn.execute(
                        text(
                            "SELECT pg_try_advisory_xact_lock("
                            "hashtextextended('scim-sync:' || current_schema() || ':' || :name, 0))"
                        ),
                        {"name": name},
                    ).scalar()
                )
            return
        token = f"{self._holder}:{uuid.uuid4().hex[:16]}"
        got = self._take_lease(name, token, ttl)
        try:
            yield got
        finally:
            if got:
                with self._engine.begin() as conn:
                    conn.execute(delete(job_leases).where(L.name == name, L.holder == token))

    def _take_lease(self, name: str, token: str, ttl: timedelta) -> bool:
        now = self._clock()
        with self._engine.begin() as conn:
            row = conn.execute(select(L.expires_at).where(L.name == name)).first()
            if row is not None and row.expires_at > now:
                return False
            lease = {"holder": token, "expires_at": now + ttl}
            if row is None:
                conn.execute(insert(job_leases).values(name=name, **lease))
            else:
                conn.execute(update(job_leases).where(L.name == name).values(**lease))
            return True
