"""Interfaces the core needs from the outside; the staging store and connectors implement them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

from reconcile.changes import Action, Applied, Change, ChangeAction
from reconcile.model import Desired, ResourceKind

__all__ = [
    "Action",
    "AnchorBook",
    "AnchorHolder",
    "Applied",
    "Applier",
    "DesiredStateSource",
    "Found",
    "HoldDecision",
    "Inventory",
    "Outcome",
    "SyncLedger",
    "SyncStatus",
    "Target",
    "TargetBase",
    "Work",
    "WorkItem",
]


class SyncStatus(StrEnum):
    PENDING = "pending"
    APPLIED = "applied"
    RETRYING = "retrying"
    DEAD = "dead"
    SKIPPED = "skipped"
    HELD = "held"


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


Work = Sequence[tuple[Desired, str | None]]
"""Resources to observe or apply, each with the anchor the ledger keeps for it (if any)."""

ObservedT = TypeVar("ObservedT")


@dataclass(frozen=True, slots=True)
class Found(Generic[ObservedT]):
    """One entry of a target's inventory: who it is (for matching it to a staged resource, or
    calling it an orphan) and what the target holds there (for its planner)."""

    kind: ResourceKind
    anchor: str
    scim_id: str | None
    """The staged resource the entry names itself, when the target records that (the
    Identity Manager store does); None when only the anchor book can tell."""
    name: str
    locator: str
    """The target's own address of the entry (a DN, a user ID)."""
    state: ObservedT
    """The entry as the target's ``plan`` reads it."""


class Applier(Protocol):
    """What the run loop needs of a target: apply one resource; optionally from several
    threads at once (``parallelism``) and with a look at each batch first (``prepare``)."""

    @property
    def name(self) -> str: ...

    @property
    def parallelism(self) -> int:
        """How many applies the run loop may run at once (then ``apply`` is thread-safe)."""
        ...

    def prepare(self, work: Work) -> None:
        """Called before each batch of independent applies (and with nothing after it): a
        target may observe the batch in fewer round trips, or send its writes ahead."""
        ...

    def apply(self, desired: Desired, anchor: str | None) -> Applied:
        """Make the target match ``desired``; idempotent, safe to repeat after a crash."""
        ...


class Inventory(Protocol[ObservedT]):
    """What the full reconcile needs of a target besides planning: the entries it holds,
    matched to staged resources as the target compares names, and orphans removed."""

    @property
    def name(self) -> str: ...

    def fold_name(self, name: str) -> str:
        """Names as the target compares them, so the full reconcile matches an entry without
        an anchor to a staged resource as an apply would find it."""
        ...

    def inventory(self, kind: ResourceKind) -> Iterator[Found[ObservedT]]:
        """Every entry of ``kind`` inside the managed scope, read in pages."""
        ...

    def observe_found(
        self, work: Sequence[tuple[Desired, str | None, Found[ObservedT]]]
    ) -> list[ObservedT]:
        """Observations of entries the inventory already read, matched to ``desired`` (with
        the anchor the ledger keeps, None when matched by name): the inventory's page is
        reused where the target can."""
        ...

    def plan_orphan(self, found: Found[ObservedT]) -> list[Change]:
        """The removal of an entry in the managed scope that no staged resource accounts for."""
        ...

    def remove_orphan(self, found: Found[ObservedT]) -> Applied:
        """Carry out :meth:`plan_orphan`."""
        ...


class Target(Applier, Inventory[ObservedT], Protocol[ObservedT]):
    """The whole contract of a downstream system: observe, plan, apply (:class:`Applier`), and
    the inventory a full reconcile compares with staging (:class:`Inventory`).
    :class:`TargetBase` gives the defaults."""

    def observe(self, work: Work) -> list[ObservedT]:
        """What the target holds for each resource of ``work``, read in as few round trips as
        the target allows. What makes an apply refuse (another resource's entry, a policy)
        is part of the observation, for ``plan`` to turn into a refusal change."""
        ...

    def plan(self, desired: Desired, observed: ObservedT) -> list[Change]:
        """The changes that bring ``observed`` to ``desired``: pure, no I/O. ``apply``
        carries out exactly these, ``--dry-run`` prints them."""
        ...


class TargetBase(ABC, Generic[ObservedT]):
    """Defaults for :class:`Target`: one apply at a time, no batch preparation, names
    compared case-insensitively, ``apply`` as observe → plan → execute, entries found by the
    inventory observed again, orphans deleted."""

    name: str
    parallelism: int = 1

    def prepare(self, work: Work) -> None:
        """Nothing to prepare by default."""

    def fold_name(self, name: str) -> str:
        return name.casefold()

    def apply(self, desired: Desired, anchor: str | None) -> Applied:
        observed = self.observe([(desired, anchor)])[0]
        return self.execute(desired, observed, self.plan(desired, observed))

    @abstractmethod
    def observe(self, work: Work) -> list[ObservedT]: ...

    @abstractmethod
    def plan(self, desired: Desired, observed: ObservedT) -> list[Change]: ...

    @abstractmethod
    def execute(self, desired: Desired, observed: ObservedT, changes: list[Change]) -> Applied:
        """Carry out ``changes`` (planned from ``observed``); raise the error of a refusal, and
        the wait of a plan that waits once the rest is written
        (:func:`reconcile.changes.applied` turns the changes into the outcome)."""

    @abstractmethod
    def inventory(self, kind: ResourceKind) -> Iterator[Found[ObservedT]]: ...

    def observe_found(
        self, work: Sequence[tuple[Desired, str | None, Found[ObservedT]]]
    ) -> list[ObservedT]:
        return self.observe([(desired, anchor) for desired, anchor, _ in work])

    def plan_orphan(self, found: Found[ObservedT]) -> list[Change]:
        return [
            Change(
                self.name,
                ChangeAction.DELETE,
                found.kind,
                found.name,
                found.scim_id,
                locator=found.locator,
            )
        ]

    def remove_orphan(self, found: Found[ObservedT]) -> Applied:
        changes = self.plan_orphan(found)
        self.remove(found)
        return Applied(Action.DELETED, None, tuple(changes))

    @abstractmethod
    def remove(self, found: Found[ObservedT]) -> None:
        """Delete an orphan's entry (only if it is still the one the inventory read)."""
