"""What a target will do to one resource, as data: the output of every target's planner.

A target decides in one pure function, ``plan(desired, observed) -> list[Change]``; its
``apply`` carries out exactly those changes, ``reconcile --dry-run`` prints them, and the full
reconcile counts a resource as drifted when they are not empty. Keeping the decision in one
place is what makes a dry run say what a run does.

A change is written for a person first (``create user alice``, ``move … to ou=disabled``,
``member add …``) and is precise enough for the target's executor: ``locator`` and
``moved_to`` are the target's own addresses (an LDAP DN, a user ID), ``diff`` holds attribute
values in the target's vocabulary, ``members`` the target's member values. When the apply would
not write at all (the entry is another resource's, a policy forbids taking it over, a
prerequisite is missing), the plan says so with a *refusal* change carrying the reason, and the
apply raises the matching error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from reconcile.errors import (
    ClashError,
    NotReadyError,
    PermanentTargetError,
    TargetError,
    TransientTargetError,
)
from reconcile.model import Desired, DesiredGroup, DesiredIdentity, ResourceKind, Tombstone


class ChangeAction(StrEnum):
    CREATE = "create"
    ADOPT = "adopt"
    """Take over an entry found by name that no staged resource holds (the policy allowing)."""
    UPDATE = "update"
    RENAME = "rename"
    MOVE = "move"
    DISABLE = "disable"
    ENABLE = "enable"
    DELETE = "delete"
    MEMBER_ADD = "member add"
    MEMBER_REMOVE = "member remove"
    # refusals: what the apply meets instead of writing (or, for WAIT, after writing the rest)
    CLASH = "clash"
    REFUSE = "refuse"
    RETRY = "retry"
    WAIT = "wait"


REFUSALS = frozenset(
    {ChangeAction.CLASH, ChangeAction.REFUSE, ChangeAction.RETRY, ChangeAction.WAIT}
)


@dataclass(frozen=True, slots=True)
class Change:
    target: str
    action: ChangeAction
    kind: ResourceKind
    name: str
    """userName or group displayName as staged (the entry's name for an orphan)."""
    scim_id: str | None
    locator: str | None = None
    """Where the entry is now, in the target's terms (a DN, a user ID); None before a create."""
    moved_to: str | None = None
    """Its new address, for a create, rename or move (and a disable or enable that moves)."""
    diff: Mapping[str, tuple[object, object]] = field(default_factory=dict)
    """attribute → (observed, desired), in the target's vocabulary."""
    members: tuple[str, ...] = ()
    """The member values added or removed (a member change only)."""
    detail: str | None = None
    """Why, for a refusal: the reason the apply gives."""

    @property
    def refusal(self) -> bool:
        return self.action in REFUSALS

    def to_json(self) -> dict[str, object]:
        return {
            "target": self.target,
            "action": self.action.value,
            "kind": self.kind.value,
            "name": self.name,
            "scim_id": self.scim_id,
            "locator": self.locator,
            "moved_to": self.moved_to,
            "diff": {k: {"observed": o, "desired": d} for k, (o, d) in self.diff.items()},
            "members": list(self.members),
            "detail": self.detail,
        }

    def describe(self) -> str:
        """One line for a person: ``update User alice: title: 'A' -> 'B'``."""
        head = f"{self.action.value} {self.kind.value} {self.name}"
        if self.detail:
            return f"{head}: {self.detail}"
        parts = []
        if self.moved_to and self.locator:
            parts.append(f"{self.locator} -> {self.moved_to}")
        elif self.moved_to:
            parts.append(self.moved_to)
        if self.members:
            parts.append(", ".join(self.members))
        if self.diff:
            parts.append(", ".join(f"{k}: {o!r} -> {d!r}" for k, (o, d) in self.diff.items()))
        return f"{head}: {'; '.join(parts)}" if parts else head


def name_of(desired: Desired) -> str:
    if isinstance(desired, DesiredIdentity):
        return desired.user_id
    if isinstance(desired, DesiredGroup):
        return desired.display_name
    return desired.name


def change(
    target: str,
    desired: Desired,
    action: ChangeAction,
    *,
    locator: str | None = None,
    moved_to: str | None = None,
    diff: Mapping[str, tuple[object, object]] | None = None,
    members: tuple[str, ...] = (),
    detail: str | None = None,
) -> Change:
    """A change to the entry of ``desired``, named as staged."""
    return Change(
        target,
        action,
        desired.kind,
        name_of(desired),
        desired.scim_id,
        locator=locator,
        moved_to=moved_to,
        diff=diff or {},
        members=members,
        detail=detail,
    )


def refusal(target: str, desired: Desired, error: TargetError) -> Change:
    """The plan's line for an apply that would not write: the error it would raise, as data."""
    if isinstance(error, ClashError):
        action = ChangeAction.CLASH
    elif isinstance(error, NotReadyError):
        action = ChangeAction.WAIT
    elif isinstance(error, TransientTargetError):
        action = ChangeAction.RETRY
    else:
        action = ChangeAction.REFUSE
    return Change(
        target, action, desired.kind, name_of(desired), desired.scim_id, detail=error.reason
    )


def refuse_first(changes: Sequence[Change]) -> None:
    """Raise the error of a plan that refuses to write (a clash, a refusal, a retry). A wait
    is raised by :func:`wait_after` once the rest is written."""
    for change in changes:
        if change.action is ChangeAction.CLASH:
            raise ClashError(change.detail or "")
        if change.action is ChangeAction.REFUSE:
            raise PermanentTargetError(change.detail or "")
        if change.action is ChangeAction.RETRY:
            raise TransientTargetError(change.detail or "")
        if change.action is ChangeAction.WAIT and len(changes) == 1:
            raise NotReadyError(change.detail or "")


def wait_after(changes: Sequence[Change], anchor: str | None) -> None:
    """What could be written is written: raise the plan's wait, keeping the entry's anchor."""
    for change in changes:
        if change.action is ChangeAction.WAIT:
            raise NotReadyError(change.detail or "", anchor=anchor)


def writes(changes: Sequence[Change]) -> list[Change]:
    """The changes that write (a plan's refusals left out)."""
    return [c for c in changes if not c.refusal]


class Action(StrEnum):
    """What an apply did, as the ledger records it and the mass-change brake counts it."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DISABLED = "disabled"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class Applied:
    """What a target did; ``anchor`` is its own stable handle for the resource."""

    action: Action
    anchor: str | None
    changes: tuple[Change, ...] = field(default=(), compare=False)
    """The planned changes the apply carried out, as ``--dry-run`` would have listed them."""


def applied(desired: Desired, changes: Sequence[Change], anchor: str | None) -> Applied:
    """The outcome of carrying out ``changes``: one action for the ledger, by the strongest
    change — a create, a delete (a disable, for a live user a delete policy removes), a
    disable, anything else an update; nothing written is unchanged."""
    done = writes(changes)
    actions = {c.action for c in done}
    if not done:
        action = Action.UNCHANGED
    elif ChangeAction.CREATE in actions:
        action = Action.CREATED
    elif ChangeAction.DELETE in actions:
        action = Action.DELETED if isinstance(desired, Tombstone) else Action.DISABLED
    elif ChangeAction.DISABLE in actions:
        action = Action.DISABLED
    else:
        action = Action.UPDATED
    return Applied(action, anchor, tuple(changes))
