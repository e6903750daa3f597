"""The only errors a target may raise; they say what the run loop must do next.

Each connector maps its library's exceptions onto these in one place and chains the original
as ``__cause__``; the run loop never has to guess whether to retry.
"""

from __future__ import annotations


class TargetError(Exception):
    """Base of every error a target reports for one resource."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientTargetError(TargetError):
    """Worth retrying later: the target was unreachable, busy or timed out."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class TargetUnavailableError(TransientTargetError):
    """The whole target is down; the rest of this run for that target is pointless.

    Resources not yet tried keep their attempt counters, so an outage does not push
    healthy changes towards the dead-letter state.
    """


class PermanentTargetError(TargetError):
    """The target refused the change for good (schema, constraint, access): a dead letter."""


class ClashError(PermanentTargetError):
    """The name is another staged resource's in the target (which compares names more loosely
    than staging): a dead letter naming both, and what a plan shows instead of a create."""


class NotReadyError(TargetError):
    """A prerequisite is missing (a member or manager not yet in the target): wait, no error.

    ``anchor`` is the entry the target already created or updated for the resource meanwhile
    (a group made with the members it could resolve): the ledger keeps it, so the entry is
    known to be this resource's while it waits, and no lookalike can take it over."""

    def __init__(self, reason: str, *, anchor: str | None = None) -> None:
        super().__init__(reason)
        self.anchor = anchor
