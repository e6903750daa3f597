"""The Identity Manager store's decision: desired state against the records read, as changes.

Pure: :class:`StoreObserved` carries everything the decision needs (the record, the record
holding the user ID when adopting, the members and which of the wanted ones have a record, or
the refusal the observation met), so ``reconcile --dry-run``, the full reconcile and ``apply``
all decide here, the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass
from typing import Any

from reconcile.changes import Change, ChangeAction, change, refusal
from reconcile.errors import TargetError
from reconcile.model import Desired, DesiredGroup, DesiredIdentity, Tombstone

TARGET = "identity_store"
IDENTITY_FIELDS = (
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
"""The columns of a record besides its key, named as in the desired state."""
GROUP_FIELDS = ("display_name", "external_id")

Row = Mapping[Any, Any]
"""A record as SQLAlchemy returns it, keyed by column name."""


@dataclass(frozen=True, slots=True)
class StoreObserved:
    row: Row | None
    """The record anchored to the resource (its ``scim_id``), user or group."""
    adoptable: Row | None = None
    """No record of its own, but one with its user ID that the adoption policy lets it take."""
    members: frozenset[str] = frozenset()
    """Groups: the member user IDs recorded."""
    known: frozenset[str] = frozenset()
    """Groups: which wanted member user IDs have a record (the others are waited for)."""
    refused: TargetError | None = None


def wanted_identity(desired: DesiredIdentity) -> dict[str, object]:
    return {name: getattr(desired, name) for name in IDENTITY_FIELDS}


def plan(desired: Desired, observed: StoreObserved) -> list[Change]:
    if observed.refused is not None:
        return [refusal(TARGET, desired, observed.refused)]
    if isinstance(desired, Tombstone):
        if observed.row is None:
            return []
        return [change(TARGET, desired, ChangeAction.DELETE, locator=_locator(observed.row))]
    if isinstance(desired, DesiredIdentity):
        return _identity(desired, observed)
    return _group(desired, observed)


def _identity(desired: DesiredIdentity, observed: StoreObserved) -> list[Change]:
    wanted = wanted_identity(desired)
    row = observed.row or observed.adoptable
    if row is None:
        diff: dict[str, tuple[object, object]] = {
            k: (None, v) for k, v in wanted.items() if v is not None
        }
        return [change(TARGET, desired, ChangeAction.CREATE, moved_to=desired.user_id, diff=diff)]
    user_id = str(row["user_id"])
    changes = []
    if observed.row is None:
        scim_id = {"scim_id": (row["scim_id"], desired.scim_id)}
        changes.append(change(TARGET, desired, ChangeAction.ADOPT, locator=user_id, diff=scim_id))
    if user_id != desired.user_id:
        changes.append(
            change(TARGET, desired, ChangeAction.RENAME, locator=user_id, moved_to=desired.user_id)
        )
    diff = {k: (row[k], v) for k, v in wanted.items() if row[k] != v}
    active = diff.pop("active", None)
    if diff:
        changes.append(
            change(TARGET, desired, ChangeAction.UPDATE, locator=desired.user_id, diff=diff)
        )
    if active is not None:
        flip = ChangeAction.ENABLE if active[1] else ChangeAction.DISABLE
        changes.append(
            change(TARGET, desired, flip, locator=desired.user_id, diff={"active": active})
        )
    return changes


def _group(desired: DesiredGroup, observed: StoreObserved) -> list[Change]:
    wanted: dict[str, object] = {"display_name": desired.display_name}
    wanted["external_id"] = desired.external_id
    row = observed.row
    changes = []
    if row is None:
        diff: dict[str, tuple[object, object]] = {
            k: (None, v) for k, v in wanted.items() if v is not None
        }
        changes.append(
            change(TARGET, desired, ChangeAction.CREATE, moved_to=desired.scim_id, diff=diff)
        )
    else:
        diff = {k: (row[k], v) for k, v in wanted.items() if row[k] != v}
        if diff:
            changes.append(
                change(TARGET, desired, ChangeAction.UPDATE, locator=desired.scim_id, diff=diff)
            )
    members = {m.user_id for m in desired.members}
    missing = members - observed.members
    extra = observed.members - members
    if addable := missing & observed.known:
        changes.append(_members(desired, ChangeAction.MEMBER_ADD, addable))
    if extra:
        changes.append(_members(desired, ChangeAction.MEMBER_REMOVE, extra))
    if waiting := sorted(missing - observed.known):
        reason = (
            f"waiting for {len(waiting)} member(s) not yet in the store: {', '.join(waiting[:5])}"
        )
        changes.append(change(TARGET, desired, ChangeAction.WAIT, detail=reason))
    return changes


def _locator(row: Row) -> str:
    return str(row["user_id"] if "user_id" in row else row["scim_id"])


def _members(desired: DesiredGroup, action: ChangeAction, user_ids: Set[str]) -> Change:
    return change(TARGET, desired, action, locator=desired.scim_id, members=tuple(sorted(user_ids)))
