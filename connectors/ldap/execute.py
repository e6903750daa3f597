"""The LDAP requests that carry out a plan, and nothing else.

Each change of :mod:`connectors.ldap.plan` becomes its operation: a create an add (reading the
new ``entryUUID`` back in the same round trip), a rename or move a modify-DN whose references
follow (group members, managers), the attribute changes on one entry one modify, member changes
modifies of value deltas, a delete the references dropped and the entry removed. A modify of an
entry that was read is guarded by an assertion (RFC 4528) that the entry at that DN is still
the one read; when it is not (moved or replaced in between), :class:`StaleError` makes the
target read again and plan afresh.

:func:`single_write` gives the request of a plan that is exactly one add or one modify, so the
batch (:mod:`connectors.ldap.batch`) can send it ahead; it is the same request
:func:`carry_out` would send (an add the directory kind must complete first, as AD's, is a
:class:`PendingAdd`, completed by the batch for many at once).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from connectors.ldap.directory import Directory, Naming, clash_explained
from connectors.ldap.errors import LdapResultError
from connectors.ldap.groups import group_naming
from connectors.ldap.kinds import AddValues
from connectors.ldap.mapping import Layout
from connectors.ldap.names import parent_dn, same_dn
from connectors.ldap.plan import LdapObserved
from connectors.ldap.requests import Control, add_request, modify_request
from connectors.ldap.session import (
    ADD,
    ASSERTION_FAILED,
    DELETE,
    NO_SUCH_OBJECT,
    REPLACE,
    Changes,
    added_uuid,
    entry_attributes,
)
from connectors.ldap.users import user_naming
from reconcile.changes import Applied, Change, ChangeAction, applied, refuse_first, wait_after
from reconcile.model import Desired, DesiredIdentity, ResourceKind, Tombstone

MODIFY_CHUNK = 5000
"""Member values per request, so one huge delta does not hit the server's size limits."""
ATTRIBUTE_CHANGES = (ChangeAction.UPDATE, ChangeAction.DISABLE, ChangeAction.ENABLE)
MOVES = (ChangeAction.RENAME, ChangeAction.MOVE, ChangeAction.DISABLE, ChangeAction.ENABLE)
Request = tuple[bytes, tuple[Control, ...]]


class StaleError(Exception):
    """The entry is no longer what was read (a guarded modify found another, or none)."""


def carry_out(
    directory: Directory, desired: Desired, observed: LdapObserved, changes: list[Change]
) -> Applied:
    refuse_first(changes)
    layout = directory.layout
    session = directory.session
    entry = observed.entry
    anchor = entry.entry_uuid if entry else None
    dn = entry.dn if entry else ""
    naming = _naming(layout, desired)
    modified: Changes = {}
    adds: list[str] = []
    removes: list[str] = []
    for change in changes:
        action = change.action
        if action is ChangeAction.CREATE and change.moved_to:
            dn = change.moved_to
            dn, values = layout.kind.prepare_add(session, desired, dn, add_values(change))
            request, controls = add_for(layout, desired.kind, change, MODIFY_CHUNK, dn, values)
            with clash_explained(directory, dn, naming):
                uuid = added_uuid(session.run("add", dn, request, *controls))
            if not uuid:
                read = session.read(dn, [layout.kind.anchor_attribute])
                uuid = read.entry_uuid if read else ""
            anchor = uuid or None
            members = change.diff.get(layout.member_attribute, ((), ()))[1]
            adds.extend(strings(members)[MODIFY_CHUNK:])
        elif action in MOVES and change.moved_to:
            with clash_explained(directory, change.moved_to, naming):
                _move(directory, dn, change.moved_to, desired.kind)
            dn = change.moved_to
        elif action is ChangeAction.DELETE:
            if desired.kind is ResourceKind.USER:
                directory.drop_references(dn)
            session.delete(dn)
            return applied(desired, changes, None)
        elif action is ChangeAction.MEMBER_ADD:
            adds.extend(change.members)
        elif action is ChangeAction.MEMBER_REMOVE:
            removes.extend(change.members)
        if action in ATTRIBUTE_CHANGES:
            modified.update(modifications([change]))
    if modified:
        changed = {a: [v for _, vs in ops for v in vs] for a, ops in modified.items()}
        layout.kind.before_modify(session, desired, dn, changed)
        _guarded(directory, dn, modified, anchor)
    for members_change in member_modifies(layout.member_attribute, adds, removes):
        _guarded(directory, dn, members_change, anchor)
    wait_after(changes, anchor)
    return applied(desired, changes, anchor)


def modifications(changes: Sequence[Change]) -> Changes:
    """The attribute changes of a plan as one modify: replace what differs, delete what goes."""
    out: Changes = {}
    for change in changes:
        for attribute, (_, wanted) in change.diff.items():
            values = strings(wanted)
            out[attribute] = [(REPLACE, values)] if values else [(DELETE, [])]
    return out


def member_modifies(attribute: str, adds: list[str], removes: list[str]) -> list[Changes]:
    """Member deltas in chunks, each modify adding and removing together, so the group is
    never left without a value (the plan put the placeholder first where it goes or comes)."""
    out: list[Changes] = []
    for start in range(0, max(len(adds), len(removes)), MODIFY_CHUNK):
        operations: list[tuple[int, list[str]]] = []
        if added := adds[start : start + MODIFY_CHUNK]:
            operations.append((ADD, added))
        if removed := removes[start : start + MODIFY_CHUNK]:
            operations.append((DELETE, removed))
        out.append({attribute: operations})
    return out


def add_values(create: Change) -> AddValues:
    """The attributes a create's diff gives the new entry."""
    return {a: list(strings(d)) for a, (_, d) in create.diff.items()}


def add_for(
    layout: Layout,
    kind: ResourceKind,
    create: Change,
    limit: int,
    dn: str | None = None,
    values: AddValues | None = None,
) -> Request:
    """The add of a create (with at most ``limit`` member values; the rest follow), at ``dn``
    with ``values`` when the directory kind completed them (:meth:`DirectoryKind.prepare_add`)."""
    classes = (
        list(layout.user_object_classes)
        if kind is ResourceKind.USER
        else [layout.group_object_class]
    )
    given = add_values(create) if values is None else values
    sent = {a: v[:limit] if a == layout.member_attribute else v for a, v in given.items()}
    dn = dn or create.moved_to
    assert dn is not None
    return add_request(dn, entry_attributes(classes, sent)), layout.kind.add_controls()


def modify_for(layout: Layout, dn: str, modified: Changes, anchor: str | None) -> Request:
    return modify_request(dn, modified), layout.kind.guard(anchor)


@dataclass(frozen=True, slots=True)
class PendingAdd:
    """A user's add that the directory kind completes before it is sent (AD: the names free
    in the domain, a first password), for many adds at once
    (:meth:`connectors.ldap.kinds.DirectoryKind.prepare_adds`)."""

    desired: DesiredIdentity
    create: Change

    @property
    def dn(self) -> str:
        assert self.create.moved_to is not None
        return self.create.moved_to

    def request(self, layout: Layout, values: AddValues) -> Request:
        return add_for(layout, self.desired.kind, self.create, MODIFY_CHUNK, self.dn, values)


def single_write(
    layout: Layout, desired: Desired, observed: LdapObserved, changes: list[Change]
) -> Request | PendingAdd | None:
    """The one request that carries out ``changes``, when it is one add of a user (still to
    be completed by the directory kind when it is a :class:`PendingAdd`) or one modify of a
    user's attributes; None for anything else (moves, deletes, waits)."""
    if not isinstance(desired, DesiredIdentity) or any(c.refusal for c in changes):
        return None
    writes = [c for c in changes if c.action is not ChangeAction.ADOPT]
    if len(writes) == 1 and writes[0].action is ChangeAction.CREATE:
        if not layout.kind.adds_ahead:
            return PendingAdd(desired, writes[0])
        return add_for(layout, desired.kind, writes[0], MODIFY_CHUNK)
    entry = observed.entry
    if entry is None or not writes or any(c.action not in ATTRIBUTE_CHANGES for c in writes):
        return None
    if any(c.moved_to for c in writes):
        return None
    return modify_for(layout, entry.dn, modifications(writes), entry.entry_uuid)


def _guarded(directory: Directory, dn: str, modified: Changes, anchor: str | None) -> None:
    request, controls = modify_for(directory.layout, dn, modified, anchor)
    try:
        directory.session.run("modify", dn, request, *controls)
    except LdapResultError as exc:
        if anchor and exc.code in (NO_SUCH_OBJECT, ASSERTION_FAILED):
            raise StaleError(f"'{dn}' is no longer the entry read") from exc
        raise


def _move(directory: Directory, dn: str, target_dn: str, kind: ResourceKind) -> None:
    """Modify-DN the entry to ``target_dn``; references to a user follow (group members,
    managers). If the process dies in between, the stale references are repaired the next
    time those groups or users are applied (each resolves its members and manager afresh)."""
    new_parent = parent_dn(target_dn)
    moved = not same_dn(parent_dn(dn), new_parent)
    new_rdn = target_dn[: len(target_dn) - len(new_parent) - 1]
    directory.session.move(dn, new_rdn, new_parent if moved else None)
    if kind is ResourceKind.USER:
        directory.follow_rename(dn, target_dn)


def strings(values: object) -> list[str]:
    """The values of one side of a diff (a tuple of strings, as the planner builds them)."""
    assert isinstance(values, tuple)
    return [str(v) for v in values]


def _naming(layout: Layout, desired: Desired) -> Naming:
    if isinstance(desired, DesiredIdentity):
        return user_naming(layout, desired.scim_id, desired.user_id)
    if isinstance(desired, Tombstone):
        if desired.kind is ResourceKind.USER:
            return user_naming(layout, desired.scim_id, desired.name)
        return group_naming(layout, desired.scim_id, desired.name)
    return group_naming(layout, desired.scim_id, desired.display_name)
