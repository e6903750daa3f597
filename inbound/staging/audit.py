"""The audit trail as operators read it, and the entries the admin page writes.

SCIM writes append their own rows inside the store's transaction (``ResourceStore``); this module
adds the operators' actions (switching the server, issuing tokens, retrying dead letters), which
have no resource transaction to join, and answers the questions the admin API and page ask:
what happened to one object, what happened lately, when did Entra last write.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select

from inbound.staging.tables import audit

A = audit.c
Clock = Callable[[], datetime]

MAX_PAGE = 500
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
    ) -> None:
        """One row of its own; ``detail`` must never hold a secret (callers pass ids only)."""
        with self._engine.begin() as conn:
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
        with self._engine.connect() as conn:
            return [AuditEvent(**row._mapping) for row in conn.execute(query)]

    def last_entra_write_at(self) -> datetime | None:
        """When a SCIM token last changed something, as any process recorded it.

        Walks the primary key backwards and stops at the first SCIM write, which is the newest
        row or close to it while Entra is active.
        """
        query = (
            select(A.at)
            .where(A.actor.startswith(ENTRA_ACTOR_PREFIX))
            .order_by(A.id.desc())
            .limit(1)
        )
        with self._engine.connect() as conn:
            moment: datetime | None = conn.execute(query).scalar()
        return moment
