"""The alert webhook's memory: each alert's state and what the receiver was last told.

Kept in the database so an alert is announced once per change of state, however many worker
processes evaluate it and across restarts: a restarted worker neither announces a firing alert
again nor forgets to announce that it resolved while it was down.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from inbound.database.service_tables import alert_states
from inbound.database.tables import reading

S = alert_states.c
Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class AlertState:
    key: str
    alert: str
    labels: dict[str, str]
    state: str
    """``inactive``, ``pending`` (condition true, waiting out its duration) or ``firing``."""
    since: datetime
    value: float | None
    notified: str | None
    """The last state the receiver accepted: ``firing``, ``resolved`` or None (never told)."""
    attempts: int
    last_error: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "alert": self.alert,
            "labels": self.labels,
            "state": self.state,
            "since": self.since.isoformat(),
            "value": self.value,
            "notified": self.notified,
            "attempts": self.attempts,
            "last_error": self.last_error,
        }


class AlertStateStore:
    def __init__(self, engine: Engine, *, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def all(self) -> dict[str, AlertState]:
        with reading(self._engine) as conn:
            rows = conn.execute(
                select(
                    S.key,
                    S.alert,
                    S.labels,
                    S.state,
                    S.since,
                    S.value,
                    S.notified,
                    S.attempts,
                    S.last_error,
                ).order_by(S.key)
            )
            return {row.key: AlertState(**row._mapping) for row in rows}

    def save(self, state: AlertState) -> None:
        values = {
            "alert": state.alert,
            "labels": state.labels,
            "state": state.state,
            "since": state.since,
            "value": state.value,
            "notified": state.notified,
            "attempts": state.attempts,
            "last_error": state.last_error,
            "updated_at": self._clock(),
        }
        with self._engine.begin() as conn:
            done = conn.execute(update(alert_states).where(S.key == state.key).values(**values))
            if done.rowcount == 0:
                conn.execute(insert(alert_states).values(key=state.key, **values))
