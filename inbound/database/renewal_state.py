"""The ``token_renewal`` table: one row per renewal job, how its deliveries went.

Only the statements and the row's shape live here; when a renewal is due and what an operator
is shown are :mod:`inbound.token_renewal`'s business.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from inbound.database.service_tables import token_renewal
from inbound.database.tables import reading

R = token_renewal.c


@dataclass(frozen=True, slots=True)
class RenewalState:
    """How the last deliveries went; ``attempts`` counts failures since the last success."""

    sink: str | None = None
    attempts: int = 0
    last_attempt_at: datetime | None = None
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None
    delivered_token_id: str | None = None

    @property
    def failing(self) -> bool:
        return self.attempts > 0


class RenewalRow:
    """The row of the renewal job named ``job``; absent until its first delivery attempt."""

    def __init__(self, engine: Engine, job: str) -> None:
        self._engine = engine
        self._job = job

    def read(self) -> RenewalState:
        with reading(self._engine) as conn:
            row = conn.execute(
                select(
                    R.sink,
                    R.attempts,
                    R.last_attempt_at,
                    R.next_attempt_at,
                    R.last_error,
                    R.delivered_at,
                    R.delivered_token_id,
                ).where(R.name == self._job)
            ).first()
        return RenewalState(*row) if row is not None else RenewalState()

    def write(self, **values: Any) -> None:
        """Update the row with ``values`` (column names), or create it."""
        with self._engine.begin() as conn:
            changed = conn.execute(
                update(token_renewal).where(R.name == self._job).values(**values)
            ).rowcount
            if not changed:
                conn.execute(insert(token_renewal).values(name=self._job, **values))
