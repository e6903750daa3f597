"""A user's entry brought to its desired state: create, update, rename or move, disable, delete.

An anchored user whose DN has not changed is written in one round trip: a modify guarded by an
assertion (RFC 4528) that the entry at that DN is the anchored one *and* does not already hold
the desired values, so nothing is written when nothing differs. When the guard fails (the entry
moved, was renamed, or already matches), or there is no anchor, the entry is read and only what
differs is written, so repeating an apply is harmless.
A rename or move is a modify-DN followed by the references that name the old DN (groups,
managers); if the process dies in between, the stale references are repaired the next time
those groups or users are reconciled (each resolves its members and manager afresh).
"""

from __future__ import annotations

from collections.abc import Sequence

from connectors.ldap.ber import all_of, any_of, equals, holds_exactly, negate
from connectors.ldap.connection import DELETE, REPLACE, Changes, Entry
from connectors.ldap.directory import Directory, Naming, clash_explained, eq
from connectors.ldap.mapping import Layout
from connectors.ldap.matching import fold
from connectors.ldap.names import parent_dn, parse_dn, same_dn
from reconcile.errors import NotReadyError
from reconcile.model import DesiredIdentity, Tombstone
from reconcile.ports import Action, Applied


def apply_user(directory: Directory, desired: DesiredIdentity, anchor: str | None) -> Applied:
    layout = directory.layout
    session = directory.session
    manager_attribute = layout.attributes.get("manager")
    manager_dn: str | None = None
    waiting: str | None = None
    if manager_attribute and desired.manager_scim_id:
        manager_dn = directory.user_dns([desired.manager_scim_id]).get(desired.manager_scim_id)
        if manager_dn is None:
            waiting = f"waiting for manager '{desired.manager_user_id}' to reach the directory"
    values = layout.user_values(desired, manager_dn)
    if waiting and manager_attribute:
        values.pop(manager_attribute)  # keep whatever is there until the manager arrives
    if layout.disable == "delete" and not desired.active:
        naming = user_naming(layout, desired.scim_id, desired.user_id)
        entry = locate_user(directory, anchor, naming)
        if entry is None:
            return Applied(Action.UNCHANGED, None)
        directory.drop_references(entry.dn)
        session.delete(entry.dn)
        return Applied(Action.DISABLED, None)
    target_dn = layout.user_dn(desired, values)
    known = (
        directory.prefetched.pop(anchor_key(anchor), None)
        if anchor and directory.prefetched is not None
        else None
    )
    if anchor and known and same_dn(known[0].dn, target_dn):
        # Read ahead with its batch: send only what differs, guarded by the anchor.
        changes = diff(known[0].attributes, values)
        if not changes or session.modify_if(target_dn, changes, equals("entryUUID", anchor)):
            if waiting:
                raise NotReadyError(waiting, anchor=anchor)
            if not changes:
                return Applied(Action.UNCHANGED, anchor)
            return Applied(Action.UPDATED if desired.active else Action.DISABLED, anchor)
    if anchor and _write_if_different(directory, target_dn, anchor, values):
        action = Action.UPDATED if desired.active else Action.DISABLED
        if waiting:
            raise NotReadyError(waiting, anchor=anchor)
        return Applied(action, anchor)
    naming = user_naming(layout, desired.scim_id, desired.user_id)
    entry = locate_user(directory, anchor, naming)
    if entry is None:
        with clash_explained(directory, target_dn, naming):
            uuid = session.add_reading_uuid(target_dn, layout.user_object_classes, values)
        applied = Applied(Action.CREATED, uuid or None)
    else:
        with clash_explained(directory, target_dn, naming):
            changed = _rename(directory, entry, target_dn)
        observed = _observed_after_rename(entry, target_dn) if changed else entry.attributes
        changes = diff(observed, values)
        if changes:
            session.modify(target_dn, changes)
        if not (changed or changes):
            action = Action.UNCHANGED
        elif desired.active:
            action = Action.UPDATED
        else:
            action = Action.DISABLED
        applied = Applied(action, entry.entry_uuid)
    if waiting:
        raise NotReadyError(waiting, anchor=applied.anchor)
    return applied


def _write_if_different(
    directory: Directory, dn: str, anchor: str, values: dict[str, list[str]]
) -> bool:
    """The one-round-trip update: replace every managed attribute at ``dn`` if the entry there
    is the anchored one and differs from ``values``; False when that guard does not hold."""
    guard = all_of([equals("entryUUID", anchor), negate(holds_exactly(values))])
    changes: Changes = {a: [(REPLACE, v)] for a, v in values.items()}
    return directory.session.modify_if(dn, changes, guard)


def user_filter(layout: Layout, user_id: str) -> str:
    return f"(&{eq('objectClass', layout.user_class)}{eq(layout.uid_attribute, user_id)})"


def user_naming(layout: Layout, scim_id: str, user_id: str) -> Naming:
    return Naming(
        owner=scim_id,
        attribute=layout.uid_attribute,
        value=user_id,
        filter=user_filter(layout, user_id),
        what=f"user '{user_id}' (id {scim_id})",
    )


def locate_user(directory: Directory, anchor: str | None, naming: Naming) -> Entry | None:
    layout = directory.layout
    return directory.locate(
        anchor,
        naming,
        layout.managed_attributes,
        (layout.users_dn, layout.disabled_dn),
        key=name_key(naming.value),
    )


def name_key(user_id: str) -> str:
    """Where the entries found ahead for a user ID wait in :attr:`Directory.prefetched`."""
    return f"uid:{user_id}"


def anchor_key(anchor: str) -> str:
    """Where an anchored entry read ahead waits in :attr:`Directory.prefetched`."""
    return f"entryuuid:{anchor.casefold()}"


def read_ahead_filters(
    layout: Layout, users: Sequence[tuple[DesiredIdentity, str | None]]
) -> tuple[bytes | None, bytes | None]:
    """The searches that read a few users ahead (at most :data:`LOOKUP_CHUNK`): by name those
    with no anchor yet (a create is then one add instead of a search and an add), by anchor the
    others (an update then sends only what differs, and nothing when nothing does). Encoded
    as BER directly: the same filters as :func:`users_filter` and ``(|(entryUUID=…)…)``, without
    escaping values into text only to parse them back."""
    names = sorted({d.user_id for d, anchor in users if not anchor})
    anchors = sorted({anchor for _, anchor in users if anchor})
    by_name = (
        all_of(
            [
                equals("objectClass", layout.user_class),
                any_of(equals(layout.uid_attribute, n) for n in names),
            ]
        )
        if names
        else None
    )
    by_anchor = any_of(equals("entryUUID", a) for a in anchors) if anchors else None
    return by_name, by_anchor


def read_ahead_found(
    layout: Layout,
    users: Sequence[tuple[DesiredIdentity, str | None]],
    by_name: Sequence[Entry],
    by_anchor: Sequence[Entry],
) -> dict[str, list[Entry]]:
    """The entries of :func:`read_ahead_filters`' searches where the applies look for them
    (:attr:`Directory.prefetched`): every name asked for (an empty list: known to be absent),
    with the entries whose naming value equals it as the directory compares names (so
    ``Alice `` finds alice's entry, and its apply sees whose that is), every anchor found."""
    uid = layout.uid_attribute
    found: dict[str, list[Entry]] = {}
    named: dict[str, list[str]] = {}  # folded name → keys of the user IDs asked for
    for d, anchor in users:
        if not anchor:
            found[name_key(d.user_id)] = []
            named.setdefault(fold(d.user_id), []).append(name_key(d.user_id))
    for entry in by_name:
        keys = {k for value in entry.get(uid) for k in named.get(fold(value), ())}
        for k in keys:
            found[k].append(entry)
    for entry in by_anchor:
        found[anchor_key(entry.entry_uuid)] = [entry]
    return found


def delete_user(directory: Directory, tombstone: Tombstone, anchor: str | None) -> Applied:
    """Entra deleted the user: its memberships and manager references go, then the entry.

    Without an anchor only an entry the adoption policy would manage is deleted, never an
    unrelated one that merely shares the user ID.
    """
    layout = directory.layout
    entry = directory.locate_to_delete(
        anchor,
        user_naming(layout, tombstone.scim_id, tombstone.name),
        (layout.users_dn, layout.disabled_dn),
    )
    if entry is None:
        return Applied(Action.UNCHANGED, None)
    directory.drop_references(entry.dn)
    directory.session.delete(entry.dn)
    return Applied(Action.DELETED, None)


def _rename(directory: Directory, entry: Entry, target_dn: str) -> bool:
    """Modify-DN the entry to ``target_dn`` if it lives elsewhere; references follow."""
    if same_dn(entry.dn, target_dn):
        return False
    new_rdn = target_dn[: len(target_dn) - len(parent_dn(target_dn)) - 1]
    new_parent = parent_dn(target_dn)
    moved = not same_dn(parent_dn(entry.dn), new_parent)
    directory.session.move(entry.dn, new_rdn, new_parent if moved else None)
    directory.follow_rename(entry.dn, target_dn)
    return True


def _observed_after_rename(entry: Entry, target_dn: str) -> dict[str, list[str]]:
    """The attributes as the server holds them after a modify-DN that dropped the old RDN."""
    observed = dict(entry.attributes)
    old = parse_dn(entry.dn)[0]
    new = parse_dn(target_dn)[0]
    for attribute, value in old:
        key = attribute.lower()
        observed[key] = [v for v in observed.get(key, []) if v.casefold() != value.casefold()]
    for attribute, value in new:
        key = attribute.lower()
        if value.casefold() not in (v.casefold() for v in observed.get(key, [])):
            observed[key] = [*observed.get(key, []), value]
    return observed


def diff(observed: dict[str, list[str]], wanted: dict[str, list[str]]) -> Changes:
    """Replace what differs, delete what should be absent; values compare exactly, so a
    change of case in a name is written too."""
    changes: Changes = {}
    for attribute, values in wanted.items():
        current = observed.get(attribute.lower(), [])
        if current == values or sorted(current) == sorted(values):
            continue
        changes[attribute] = [(REPLACE, values)] if values else [(DELETE, [])]
    return changes
