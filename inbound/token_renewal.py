"""When the token renewal job is due, and what its deliveries came to.

The state lives in one database row (:mod:`inbound.database.renewal_state`), not in the
renewing process, so every web and worker process shows the same delivery status, and a
restarted process picks up a failed delivery's backoff where its predecessor left it. (That
one process mints and delivers at a time is the job lock's business:
``inbound.database.locks.JobLock``.)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from inbound.database.renewal_state import RenewalRow, RenewalState

Clock = Callable[[], datetime]
JOB = "scim"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


class RenewalTracker:
    """The renewal job's schedule and delivery record, shared by every process through the
    database: when the next token is due, and how the last deliveries went."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock,
        sink: str,
        renew_before: timedelta,
    ) -> None:
        self._row = RenewalRow(engine, JOB)
        self._clock = clock
        self.sink = sink[:256]
        """Where renewed tokens go, described without secrets (``none`` when nowhere)."""
        self.renew_before = renew_before

    def state(self) -> RenewalState:
        return self._row.read()

    def due_at(self, newest_expiry: datetime | None) -> datetime | None:
        """When the next token should be minted: None when there is no sink, else the newest
        token's expiry less the renewal margin, or now when no live token is left."""
        if self.sink == "none":
            return None
        if newest_expiry is None:
            return self._clock()
        return newest_expiry - self.renew_before

    def next_renewal_at(
        self, newest_expiry: datetime | None, state: RenewalState | None = None
    ) -> datetime | None:
        """``due_at``, held back while a failed delivery waits for its next attempt."""
        state = state or self.state()
        due = self.due_at(newest_expiry)
        if due is not None and state.failing and state.next_attempt_at is not None:
            due = max(due, state.next_attempt_at)
        return due

    def report(self, newest_expiry: datetime | None) -> dict[str, Any]:
        """The delivery part of ``status``: what an operator needs to see a renewal failing."""
        state = self.state()
        due = self.next_renewal_at(newest_expiry, state)
        return {
            "sink": self.sink,
            "state": self._summary(state),
            "renew_before_seconds": self.renew_before.total_seconds(),
            "next_renewal_at": _iso(due),
            "delivered_at": _iso(state.delivered_at),
            "delivered_token_id": state.delivered_token_id,
            "failed_attempts": state.attempts,
            "last_attempt_at": _iso(state.last_attempt_at),
            "last_error": state.last_error,
        }

    def _summary(self, state: RenewalState) -> str:
        if self.sink == "none":
            return "disabled"
        if state.failing:
            return "failing"
        return "ok" if state.delivered_at else "never delivered"

    def record_delivered(self, token_id: str) -> None:
        now = self._clock()
        self._write(
            sink=self.sink,
            attempts=0,
            last_attempt_at=now,
            next_attempt_at=None,
            last_error=None,
            delivered_at=now,
            delivered_token_id=token_id,
        )

    def record_failed(self, error: str, next_attempt_at: datetime, attempts: int) -> None:
        """``attempts`` failures in a row; the job tries again at ``next_attempt_at``."""
        self._write(
            sink=self.sink,
            attempts=attempts,
            last_attempt_at=self._clock(),
            next_attempt_at=next_attempt_at,
            last_error=error[:2000],
        )

    def _write(self, **values: Any) -> None:
        self._row.write(**values, updated_at=self._clock())
