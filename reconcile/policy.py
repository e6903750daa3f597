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


@dataclass(frozen=True, slots=True)
class MassChangeBrake:
    """Holds a target's deletes and disables when there are too many, until an operator
    approves.

    A scoping mistake in Entra (a group unassigned, a filter changed) can disable or delete a
    whole directory in one cycle; the brake turns that into a held change an operator looks at.
    It weighs what is due *plus* what was already applied within :attr:`window`: a run starts
    0.2 s after each SCIM write, so a cycle's deletes that Entra sends one by one are applied
    in many small runs, and a brake counting one run at a time would never see them together.
    """

    max_count: int = 100
    """More deletes and disables than this on one target within the window are held (0 turns
    it off)."""
    max_share: float = 0.25
    """... or more than this share of the resources the target holds."""
    min_count_for_share: int = 10
    """The share rule applies only from this many changes, so small directories are not held
    for a single delete."""
    window: timedelta = timedelta(minutes=40)
    """Deletes and disables applied this recently still count (Entra's provisioning cycle is
    40 minutes); an approved hold starts the count afresh."""

    def trips(self, deletes: int, disables: int, managed: int) -> bool:
        destructive = deletes + disables
        if self.max_count <= 0 or destructive == 0:
            return False
        if destructive > self.max_count:
            return True
        return (
            destructive >= self.min_count_for_share
            and managed > 0
            and destructive / managed > self.max_share
        )
