"""The Identity Manager store's decision: desired state against the records read, as changes.

Pure: :class:`StoreObserved` carries everything the decision needs (the record, the record
holding the user ID when adopting, the members and which of the wanted ones have a record, or
the refusal the observation met), so ``reconcile --dry-run``, the full reconcile and ``apply``
all decide here, the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any

from connectors.identity_store.fields import GROUP_FIELDS, IDENTITY_FIELDS
from connectors.identity_store.mapping import extra_attributes
from connectors.identity_store.roles import checked_roles
from reconcile.app_roles import AppRole, app_roles
from reconcile.changes import Change, ChangeAction, change, refusal
from reconcile.errors import PermanentTargetError, TargetError
from reconcile.mapping import TargetMapping
from reconcile.model import Desired, DesiredGroup, DesiredIdentity, Tombstone

__all__ = ["GROUP_FIELDS", "IDENTITY_FIELDS", "StoreObserved", "plan", "wanted_identity"]

TARGET = "identity_store"

Row = Mapping[Any, Any]
"""A record as SQLAlchemy returns it, keyed by column name."""
RoleData = dict[str, object]
"""A role as a plan shows it: ``{"value", "display", "primary"}`` (JSON as it is)."""


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
    roles: tuple[AppRole, ...] = ()
    """Users: the application roles recorded for the record (``row`` or ``adoptable``)."""
    refused: TargetError | None = None


def role_data(roles: Sequence[AppRole]) -> tuple[RoleData, ...]:
    """Roles as plans show and compare them: one per value, ordered by value."""
    by_value = {r.value: r for r in reversed(roles)}  # the first of a value wins, as stored
    return tuple(
        {"value": r.value, "display": r.display, "primary": r.primary}
        for _, r in sorted(by_value.items())
    )


def roles_of(data: object) -> list[AppRole]:
    """The roles of one side of a plan's ``roles`` change, for the executor."""
    assert isinstance(data, tuple)
    return [
        AppRole(
            str(d["value"]), None if d["display"] is None else str(d["display"]), bool(d["primary"])
        )
        for d in data
    ]


def wanted_roles(desired: DesiredIdentity) -> tuple[RoleData, ...]:
    """The roles Entra sent for the user; one too long for its column refuses the user (the
    same reason on SQLite, which would store it, as on PostgreSQL, which would not)."""
    roles = app_roles(desired.source.get("roles"))
    return role_data(list(checked_roles(desired.user_id, roles).values()))


def wanted_identity(desired: DesiredIdentity) -> dict[str, object]:
    return {name: getattr(desired, name) for name in IDENTITY_FIELDS}


def plan(
    desired: Desired, observed: StoreObserved, mapping: TargetMapping | None = None
) -> list[Change]:
    """The changes for ``desired``; ``mapping`` is the store's declarative mapping, whose
    extra attributes a user's record holds beside its columns (with its roles)."""
    if observed.refused is not None:
        return [refusal(TARGET, desired, observed.refused)]
    if isinstance(desired, Tombstone):
        if observed.row is None:
            return []
        return [change(TARGET, desired, ChangeAction.DELETE, locator=_locator(observed.row))]
    if isinstance(desired, DesiredIdentity):
        try:
            extra = extra_attributes(mapping, desired) or None
            roles = wanted_roles(desired)
        except PermanentTargetError as exc:  # a template failing for it, a role too long
            return [refusal(TARGET, desired, exc)]
        return _identity(desired, observed, extra, roles)
    try:
        group_extra = extra_attributes(mapping, desired) or None
    except PermanentTargetError as exc:
        return [refusal(TARGET, desired, exc)]
    return _group(desired, observed, group_extra)


def _identity(
    desired: DesiredIdentity,
    observed: StoreObserved,
    extra: Mapping[str, object] | None,
    roles: tuple[RoleData, ...],
) -> list[Change]:
    wanted = wanted_identity(desired)
    wanted["extra"] = extra
    row = observed.row or observed.adoptable
    if row is None:
        diff: dict[str, tuple[object, object]] = {
            k: (None, v) for k, v in wanted.items() if v is not None
        }
        if roles:
            diff["roles"] = ((), roles)
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
    held = role_data(observed.roles)
    if held != roles:
        diff["roles"] = (held, roles)
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


def _group(
    desired: DesiredGroup, observed: StoreObserved, extra: Mapping[str, object] | None
) -> list[Change]:
    wanted: dict[str, object] = {"display_name": desired.display_name}
    wanted["external_id"] = desired.external_id
    wanted["extra"] = extra
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
    not_wanted = observed.members - members
    if addable := missing & observed.known:
        changes.append(_members(desired, ChangeAction.MEMBER_ADD, addable))
    if not_wanted:
        changes.append(_members(desired, ChangeAction.MEMBER_REMOVE, not_wanted))
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
