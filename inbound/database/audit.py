"""The audit trail as operators read it, and the entries the admin page writes.

SCIM writes append their own rows inside the store's transaction (``ResourceStore``); this module
adds the operators' actions (switching the server, issuing tokens, retrying dead letters), each
in the transaction of the change it records (:meth:`AuditLog.together`), and answers the
questions the admin API and page ask: what happened to one object, what happened lately, when
did Entra last write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select

from inbound.database.tables import audit, reading, writing

A = audit.c
Clock = Callable[[], datetime]

MAX_PAGE = 500
LOOK_BACK = 100_000
ENTRA_ACTOR_PREFIX = "token:"
"""SCIM writes are audited with the actor ``token:<id>``; every other actor is an operator."""


@dataclass(frozen=True, slots=True)
class AuditEvent:
    id: int
    at: datetime
    actor: str
    operation: str
    outcome: str
    scim_id: str | None
    kind: str | None
    generation: int | None
    request_id: str | None
    detail: Any

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "operation": self.operation,
            "outcome": self.outcome,
            "scim_id": self.scim_id,
            "kind": self.kind,
            "generation": self.generation,
            "request_id": self.request_id,
            "detail": self.detail,
        }


class AuditLog:
    def __init__(self, engine: Engine, *, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def append(
        self,
        actor: str,
        operation: str,
        *,
        outcome: str = "ok",
        scim_id: str | None = None,
        kind: str | None = None,
        generation: int | None = None,
        request_id: str | None = None,
        detail: dict[str, Any] | None = None,
        joined: Connection | None = None,
    ) -> None:
        """One row, in a transaction of its own or in ``joined`` (the transaction of the change
        it records); ``detail`` must never hold a secret (callers pass ids only)."""
        with writing(self._engine, joined) as conn:
            conn.execute(
                insert(audit).values(
                    at=self._clock(),
                    actor=actor,
                    operation=operation,
                    outcome=outcome,
                    scim_id=scim_id,
                    kind=kind,
                    generation=generation,
                    request_id=request_id,
                    detail=detail,
                )
            )

    @contextmanager
    def together(self) -> Iterator[Connection]:
        """One transaction for a change and its audit event: both commit, or neither."""
        with writing(self._engine) as conn:
            yield conn

    def query(
        self, *, scim_id: str | None = None, before_id: int | None = None, limit: int = 100
    ) -> list[AuditEvent]:
        """Newest first; page backwards with ``before_id`` (the smallest id already seen).

        Ordered by the autoincrement id rather than by time, so pages never overlap or skip
        when two rows share a timestamp; both filters ride the (scim_id, id) and primary key
        indexes.
        """
        query = select(
            A.id,
            A.at,
            A.actor,
            A.operation,
            A.outcome,
            A.scim_id,
            A.kind,
            A.generation,
            A.request_id,
            A.detail,
        )
        if scim_id is not None:
            query = query.where(A.scim_id == scim_id)
        if before_id is not None:
            query = query.where(A.id < before_id)
        query = query.order_by(A.id.desc()).limit(max(1, min(limit, MAX_PAGE)))
        with reading(self._engine) as conn:
            return [AuditEvent(**row._mapping) for row in conn.execute(query)]

    def last_entra_write_after(self, after_id: int) -> tuple[int, datetime | None]:
        """The newest event id, and the time of the newest SCIM write among events after
        ``after_id``.

        Callers remember the id and pass it back, so each call reads only the rows added since
        (a primary key range), however many target operations the reconciler audited; the
        first call looks back at most ``LOOK_BACK`` events.
        """
        with reading(self._engine) as conn:
            newest = int(conn.execute(select(func.max(A.id))).scalar() or 0)
            after_id = max(after_id, newest - LOOK_BACK)
            if newest <= after_id:
                return newest, None
            moment: datetime | None = conn.execute(
                select(func.max(A.at)).where(
                    A.id > after_id,
                    A.id <= newest,
                    A.actor.startswith(ENTRA_ACTOR_PREFIX),
                )
            ).scalar()
        if isinstance(moment, str):  # SQLite gives max() of a timestamp back as text
            moment = datetime.fromisoformat(moment)
        if moment is not None and moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return newest, moment
