"""Retry policy as data: how long to wait after the n-th failure, and when to give up.

The wait curve is tenacity's exponential backoff with jitter, evaluated for a persisted attempt
count instead of inside a blocking loop, so a retry survives a restart of the worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import tenacity
from tenacity.wait import wait_base


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 12
    """Transient failures tolerated before a resource becomes a dead letter."""
    initial_seconds: float = 2.0
    """Wait after the first failure; it doubles with each further one."""
    max_seconds: float = 3600.0
    """Ceiling of one wait."""
    jitter_seconds: float = 1.0
    """Random extra added to each wait so retries from many resources spread out."""
    not_ready_seconds: float = 5.0
    """How soon a resource waiting for a prerequisite is looked at again."""
    wait: wait_base = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "wait",
            tenacity.wait_exponential_jitter(
                multiplier=self.initial_seconds, max=self.max_seconds, jitter=self.jitter_seconds
            ),
        )

    def next_attempt(self, attempts: int, now: datetime, retry_after: float | None) -> datetime:
        """When to try again after ``attempts`` failures; a target's own hint wins if longer."""
        state = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})
        state.attempt_number = attempts
        delay = float(self.wait(state))
        if retry_after is not None:
            delay = max(delay, retry_after)
        return now + timedelta(seconds=delay)

    def gives_up_after(self, attempts: int) -> bool:
        return attempts >= self.max_attempts
