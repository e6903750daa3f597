"""Planning: desired state against what a target holds, as a list of changes a person can read.

The same comparison serves ``reconcile --dry-run`` (what the next run would do) and the full
(drift) reconciliation, which reads each target whole and repairs what was changed behind
scim-sync's back: entries edited or deleted by hand, missing or extra members, orphans.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from reconcile.errors import ClashError, NotReadyError, TargetError
from reconcile.model import Desired, DesiredGroup, DesiredIdentity, ResourceKind, Tombstone
from reconcile.ports import Applied

IDENTITY_ATTRIBUTES = (
    "user_id",
    "active",
    "external_id",
    "email",
    "given_name",
    "family_name",
    "display_name",
    "title",
    "department",
    "employee_number",
    "manager_user_id",
)
GROUP_ATTRIBUTES = ("display_name", "external_id")


@dataclass(frozen=True, slots=True)
class Observed:
    """One entry as a target holds it, in the vocabulary of the desired state.

    ``attributes`` holds only what the target stores, so a target that keeps no ``title`` never
    reports a drift on it. ``members`` are user IDs (groups only).
    """

    kind: ResourceKind
    anchor: str
    scim_id: str | None
    name: str
    attributes: Mapping[str, object] = field(default_factory=dict)
    members: frozenset[str] | None = None
    locator: str | None = None
    """The target's own address of the entry (an LDAP DN), for removing an orphan."""


@dataclass(frozen=True, slots=True)
class PlannedChange:
    target: str
    action: str
    """create / update / disable / enable / delete / member add / member remove; or what the
    apply would do instead of writing: clash (a dead letter naming both resources), refuse
    (another dead letter), wait"""
    kind: ResourceKind
    name: str
    scim_id: str | None
    diff: dict[str, tuple[object, object]] = field(default_factory=dict)
    """attribute → (observed, desired)"""
    members: tuple[str, ...] = ()
    detail: str | None = None
    """Why, for a clash, a refusal or a wait: the reason the apply would give."""

    def to_json(self) -> dict[str, object]:
        return {
            "target": self.target,
            "action": self.action,
            "kind": self.kind.value,
            "name": self.name,
            "scim_id": self.scim_id,
            "diff": {k: {"observed": o, "desired": d} for k, (o, d) in self.diff.items()},
            "members": list(self.members),
            "detail": self.detail,
        }


@runtime_checkable
class Inventory(Protocol):
    """What a target offers for planning and drift repair, besides ``apply``."""

    @property
    def name(self) -> str: ...

    def observe(self, desired: Desired, anchor: str | None) -> Observed | None:
        """The entry ``desired`` maps to, or None when the target does not hold it; raises the
        :class:`TargetError` its apply would meet instead (a clash with another resource's
        entry, a refusal, a wait), so a plan says what the apply will do.

        A target may also offer ``observe_many(work) -> list[Observed | TargetError | None]``
        for a batch, asking its questions once for all (see :func:`observe_all`)."""
        ...

    def inventory(self, kind: ResourceKind) -> Iterator[Observed]:
        """Every entry of ``kind`` inside the managed scope, read in pages."""
        ...

    def remove_orphan(self, observed: Observed) -> Applied:
        """Delete an entry in the managed scope that no staged resource accounts for."""
        ...

    def expected(self, desired: DesiredIdentity | DesiredGroup) -> Mapping[str, object] | None:
        """What the target would hold for ``desired``, in the vocabulary of
        ``Observed.attributes``; None when it should hold nothing (e.g. a disabled user under a
        delete policy)."""
        ...


def observe_all(
    target: Inventory, work: Sequence[tuple[Desired, str | None]]
) -> list[Observed | TargetError | None]:
    """What ``target`` holds for each of ``work``, or the error its apply would meet."""
    many = getattr(target, "observe_many", None)
    if callable(many):
        found: list[Observed | TargetError | None] = many(work)
        return found
    out: list[Observed | TargetError | None] = []
    for desired, anchor in work:
        try:
            out.append(target.observe(desired, anchor))
        except TargetError as exc:
            out.append(exc)
    return out


def refusal(target: str, desired: Desired, error: TargetError) -> PlannedChange:
    """The plan's line for an apply that would not write: a clash, a refusal or a wait."""
    if isinstance(error, ClashError):
        action = "clash"
    elif isinstance(error, NotReadyError):
        action = "wait"
    else:
        action = "refuse"
    return PlannedChange(
        target, action, desired.kind, _name(desired), desired.scim_id, detail=error.reason
    )


def name_folding(target: object) -> Callable[[str], str]:
    """How ``target`` compares names (``fold_name``), so an entry without an anchor is matched
    to staged resources as the target's own applies would find it; case-insensitive when the
    target does not say."""
    folding = getattr(target, "fold_name", None)
    return folding if callable(folding) else str.casefold


def expectation(
    target: object, desired: DesiredIdentity | DesiredGroup
) -> Mapping[str, object] | None:
    """A target's own expectation when it has one; the desired attributes otherwise."""
    expected = getattr(target, "expected", None)
    return expected(desired) if callable(expected) else desired_attributes(desired)


class _Unset:
    """Marks a parameter that was not given (None has a meaning of its own there)."""


UNSET = _Unset()


def desired_attributes(desired: DesiredIdentity | DesiredGroup) -> dict[str, object]:
    names = IDENTITY_ATTRIBUTES if isinstance(desired, DesiredIdentity) else GROUP_ATTRIBUTES
    return {name: getattr(desired, name) for name in names}


def _name(desired: Desired) -> str:
    if isinstance(desired, DesiredIdentity):
        return desired.user_id
    if isinstance(desired, DesiredGroup):
        return desired.display_name
    return desired.name


def plan(
    target: str,
    desired: Desired | None,
    observed: Observed | None,
    expected: Mapping[str, object] | _Unset | None = UNSET,
) -> list[PlannedChange]:
    """The smallest set of changes that turns ``observed`` into ``desired``.

    ``desired`` None means no staged resource accounts for the entry: an orphan to delete.
    ``expected`` is the target's view of ``desired`` (see :func:`expectation`); left out, the
    desired attributes themselves.
    """
    if isinstance(expected, _Unset) and isinstance(desired, DesiredIdentity | DesiredGroup):
        expected = desired_attributes(desired)
    if desired is not None and not isinstance(desired, Tombstone) and expected is None:
        if observed is None:
            return []  # the target should hold nothing, and holds nothing
        return [PlannedChange(target, "delete", observed.kind, observed.name, desired.scim_id)]
    if desired is None or isinstance(desired, Tombstone):
        if observed is None:
            return []
        scim_id = desired.scim_id if desired is not None else observed.scim_id
        return [PlannedChange(target, "delete", observed.kind, observed.name, scim_id)]
    assert isinstance(expected, Mapping)
    wanted = dict(expected)
    name = _name(desired)
    if observed is None:
        diff: dict[str, tuple[object, object]] = {
            k: (None, v) for k, v in wanted.items() if v is not None
        }
        changes = [PlannedChange(target, "create", desired.kind, name, desired.scim_id, diff)]
        if isinstance(desired, DesiredGroup) and desired.members:
            changes.append(
                _members(target, desired, "member add", {m.user_id for m in desired.members})
            )
        return changes
    diff = {
        key: (observed.attributes[key], value)
        for key, value in wanted.items()
        if key in observed.attributes and observed.attributes[key] != value
    }
    changes = []
    active = diff.pop("active", None)
    if diff:
        changes.append(PlannedChange(target, "update", desired.kind, name, desired.scim_id, diff))
    if active is not None:
        action = "enable" if active[1] else "disable"
        changes.append(PlannedChange(target, action, desired.kind, name, desired.scim_id))
    if isinstance(desired, DesiredGroup) and observed.members is not None:
        wanted_members = {m.user_id for m in desired.members}
        extra = observed.members - wanted_members
        missing = wanted_members - observed.members
        if missing:
            changes.append(_members(target, desired, "member add", missing))
        if extra:
            changes.append(_members(target, desired, "member remove", extra))
    return changes


def _members(target: str, desired: DesiredGroup, action: str, user_ids: Set[str]) -> PlannedChange:
    return PlannedChange(
        target,
        action,
        desired.kind,
        desired.display_name,
        desired.scim_id,
        members=tuple(sorted(user_ids)),
    )
