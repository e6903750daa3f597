"""Interfaces the core needs from the outside; the staging store and connectors implement them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from reconcile.model import Desired, ResourceKind


class SyncStatus(StrEnum):
    PENDING = "pending"
    APPLIED = "applied"
    RETRYING = "retrying"
    DEAD = "dead"
    SKIPPED = "skipped"
    HELD = "held"


class Action(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DISABLED = "disabled"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class WorkItem:
    """A resource whose staged generation is ahead of what one target has observed."""

    scim_id: str
    kind: ResourceKind
    generation: int
    deleted: bool
    anchor: str | None
    attempts: int


@dataclass(frozen=True, slots=True)
class HoldDecision:
    """An open mass-change hold on a target: destructive changes wait for an operator."""

    id: int
    deletes: int
    disables: int
    managed: int
    approved: bool


@dataclass(frozen=True, slots=True)
class Applied:
    """What a target did; ``anchor`` is its own stable handle for the resource."""

    action: Action
    anchor: str | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the ledger records for one resource on one target after one attempt."""

    status: SyncStatus
    observed_generation: int | None
    anchor: str | None
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    action: Action | None = None
    """What the target did, when it applied the change."""
    waiting: bool = False
    """Held back by a missing prerequisite rather than by an error."""


class DesiredStateSource(Protocol):
    def load(self, scim_ids: Sequence[str]) -> dict[str, Desired]:
        """The newest staged state of each resource (tombstones included)."""
        ...


class SyncLedger(Protocol):
    def claim(
        self, target: str, now: datetime, limit: int, *, destructive: bool = True
    ) -> list[WorkItem]:
        """Take resources the target is behind on for this worker: deletes (groups first),
        then users, then groups. Claimed items are not handed to another worker until
        recorded or until the claim lapses. Without ``destructive``, deletes and disables of
        resources the target holds are left alone (the mass-change brake)."""
        ...

    def release(self, target: str) -> None:
        """Return this worker's unfinished claims on a target."""
        ...

    def record_many(
        self, target: str, outcomes: Sequence[tuple[WorkItem, Outcome]], now: datetime
    ) -> None:
        """Record a batch of outcomes in one transaction."""
        ...

    def forget_fully_deleted(self, targets: Iterable[str]) -> int:
        """Drop tombstones every target has observed; returns how many went."""
        ...

    # the mass-change brake's needs
    def count_destructive(self, target: str, now: datetime) -> tuple[int, int]:
        """Deletes and disables due now of resources the target holds."""
        ...

    def count_destructive_applied(self, target: str, since: datetime) -> tuple[int, int]:
        """Deletes and disables applied on the target after ``since``, and after the last
        hold an operator approved there (those were weighed by a person already)."""
        ...

    def count_managed(self, target: str) -> int: ...

    def open_hold(self, target: str) -> HoldDecision | None: ...

    def hold(
        self, target: str, deletes: int, disables: int, managed: int, now: datetime
    ) -> int: ...

    def mark_held(self, target: str, now: datetime) -> int: ...

    def close_hold(self, hold_id: int, now: datetime) -> None: ...


@dataclass(frozen=True, slots=True)
class AnchorHolder:
    """A staged resource that holds an anchor on a target: who an entry belongs to."""

    scim_id: str
    kind: ResourceKind
    name: str
    """userName or group displayName, as staged."""
    deleting: bool = False
    """Deleted in Entra, the delete not yet applied: the entry is still its own until then."""

    def describe(self) -> str:
        what = "user" if self.kind is ResourceKind.USER else "group"
        return f"{what} '{self.name}' (id {self.scim_id})"


class AnchorBook(Protocol):
    """The ledger's record of which staged resource holds which anchor on each target.

    Targets consult it before taking over an entry they found by name (the name may be a
    lookalike of another resource's) and to resolve members and managers by the referenced
    user's own anchor instead of by a name search. Both questions are asked for many at once.
    """

    def holders(self, target: str, anchors: Sequence[str]) -> dict[str, list[AnchorHolder]]:
        """anchor → the staged resources (live, or deleted but not yet removed) holding it."""
        ...

    def anchors_of(self, target: str, scim_ids: Sequence[str]) -> dict[str, str]:
        """scim_id → anchor on ``target``, for those of ``scim_ids`` the target has applied."""
        ...


class Target(Protocol):
    """One downstream system the reconciler brings to the desired state.

    A target may declare ``parallelism`` (an int attribute, default 1): the run loop then calls
    ``apply`` from that many threads at once for independent resources, so ``apply`` must be
    thread-safe (for example one connection per thread). It may also offer
    ``prepare(work: list[tuple[Desired, anchor]])``, called before each batch of independent
    applies (and with an empty list after it) to look the batch up in fewer round trips.
    """

    @property
    def name(self) -> str: ...

    def apply(self, desired: Desired, anchor: str | None) -> Applied:
        """Make the target match ``desired``; idempotent, safe to repeat after a crash."""
        ...
