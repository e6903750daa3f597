"""A group's entry and its membership, changed by value deltas only.

``groupOfNames`` (and ``groupOfUniqueNames``) must have at least one member, while Entra creates
every group empty and adds members later. scim-sync keeps such a group valid with one placeholder
member, a DN that names no entry (``SCIM_SYNC_LDAP_EMPTY_GROUP_MEMBER``, default
``cn=nobody,BASE``): it is written when the last real member leaves and removed in the same modify
that adds the first one, so the group is never empty and nobody gains rights through it.
"""

from __future__ import annotations

from connectors.ldap.connection import ADD, DELETE, Changes, Entry
from connectors.ldap.directory import Directory, Naming, clash_explained, eq
from connectors.ldap.mapping import Layout
from connectors.ldap.names import DnKey, dn_key, escape_dn_value, parent_dn, same_dn
from reconcile.errors import NotReadyError
from reconcile.model import DesiredGroup, Tombstone
from reconcile.ports import Action, Applied

MODIFY_CHUNK = 5000
"""Member values per modify, so one huge delta does not hit the server's size limits."""


def apply_group(directory: Directory, desired: DesiredGroup, anchor: str | None) -> Applied:
    layout = directory.layout
    session = directory.session
    attribute = layout.member_attribute
    placeholder = layout.placeholder_member
    resolved = directory.user_dns(m.scim_id for m in desired.members) if desired.members else {}
    missing = sorted(m.user_id for m in desired.members if m.scim_id not in resolved)
    wanted = sorted(set(resolved.values()))
    naming = group_naming(layout, desired.scim_id, desired.display_name)
    entry = locate_group(directory, anchor, naming, [attribute])
    target_dn = layout.group_dn(desired.display_name)
    if entry is None:
        members = wanted or [placeholder]
        first, rest = members[:MODIFY_CHUNK], members[MODIFY_CHUNK:]
        with clash_explained(directory, target_dn, naming):
            uuid = session.add_reading_uuid(
                target_dn,
                [layout.group_object_class],
                {"cn": [desired.display_name], attribute: first},
            )
        for start in range(0, len(rest), MODIFY_CHUNK):
            session.modify(target_dn, {attribute: [(ADD, rest[start : start + MODIFY_CHUNK])]})
        applied = Applied(Action.CREATED, uuid or None)
    else:
        with clash_explained(directory, target_dn, naming):
            renamed = _rename(directory, entry, target_dn, desired.display_name)
        changed = _sync_members(directory, target_dn, entry, wanted)
        action = Action.UPDATED if renamed or changed else Action.UNCHANGED
        applied = Applied(action, entry.entry_uuid)
    if missing:
        shown = ", ".join(missing[:5])
        raise NotReadyError(
            f"waiting for {len(missing)} member(s) not yet in the directory: {shown}",
            anchor=applied.anchor,
        )
    return applied


def group_filter(layout: Layout, display_name: str) -> str:
    return f"(&{eq('objectClass', layout.group_object_class)}{eq('cn', display_name)})"


def group_naming(layout: Layout, scim_id: str, display_name: str) -> Naming:
    return Naming(
        owner=scim_id,
        attribute="cn",
        value=display_name,
        filter=group_filter(layout, display_name),
        what=f"group '{display_name}' (id {scim_id})",
    )


def locate_group(
    directory: Directory, anchor: str | None, naming: Naming, attributes: list[str]
) -> Entry | None:
    layout = directory.layout
    return directory.locate(anchor, naming, ["cn", *attributes], (layout.groups_dn,))


def delete_group(directory: Directory, tombstone: Tombstone, anchor: str | None) -> Applied:
    layout = directory.layout
    entry = directory.locate_to_delete(
        anchor, group_naming(layout, tombstone.scim_id, tombstone.name), (layout.groups_dn,)
    )
    if entry is None:
        return Applied(Action.UNCHANGED, None)
    directory.session.delete(entry.dn)
    return Applied(Action.DELETED, None)


def _rename(directory: Directory, entry: Entry, target_dn: str, display_name: str) -> bool:
    """A displayName change is a modify-DN; a change of case only rewrites ``cn``."""
    session = directory.session
    if not same_dn(entry.dn, target_dn):
        new_parent = parent_dn(target_dn)
        moved = not same_dn(parent_dn(entry.dn), new_parent)
        session.move(entry.dn, f"cn={escape_dn_value(display_name)}", new_parent if moved else None)
        return True
    if entry.get("cn") != [display_name]:
        session.modify(target_dn, {"cn": [(DELETE, entry.get("cn")), (ADD, [display_name])]})
        return True
    return False


def _sync_members(directory: Directory, dn: str, entry: Entry, wanted: list[str]) -> bool:
    """Add the missing members and delete the extra ones, keeping at least one value.

    Values equal as strings are the same member: the server hands back the DNs it was given,
    so only the few that differ as strings are parsed and folded (:func:`dn_key`) to be
    compared; parsing every DN of a 5,000-member group cost more than the LDAP round trips."""
    layout = directory.layout
    attribute = layout.member_attribute
    placeholder = layout.placeholder_member
    values = entry.get(attribute)
    exact_current, exact_wanted = set(values), set(wanted)
    current: dict[DnKey, str] = {dn_key(v): v for v in values if v not in exact_wanted}
    others: dict[DnKey, str] = {dn_key(v): v for v in wanted if v not in exact_current}
    placeholder_key = dn_key(placeholder)
    has_placeholder = placeholder_key in current
    current.pop(placeholder_key, None)
    to_add = [v for k, v in others.items() if k not in current]
    to_delete = [v for k, v in current.items() if k not in others]
    changes: list[Changes] = []
    for start in range(0, len(to_add), MODIFY_CHUNK):
        changes.append({attribute: [(ADD, to_add[start : start + MODIFY_CHUNK])]})
    if wanted and has_placeholder:
        if not changes:
            changes.append({attribute: []})
        changes[0][attribute].append((DELETE, [placeholder]))
    for start in range(0, len(to_delete), MODIFY_CHUNK):
        changes.append({attribute: [(DELETE, to_delete[start : start + MODIFY_CHUNK])]})
    if not wanted and to_delete and not has_placeholder:
        changes[-1][attribute].append((ADD, [placeholder]))
    for change in changes:
        directory.session.modify(dn, change)
    return bool(changes)
