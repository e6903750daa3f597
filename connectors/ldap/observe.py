"""What the directory holds for resources, read in batches, as the LDAP planner needs it.

For each resource: its entry, found by its anchor or else by name (a name's entry is taken
only if no other staged resource holds it and the adoption policy allows, see
:meth:`Directory.choose`), and the DNs of the manager or members it references, resolved by
their own anchors. Who holds the entries found by name is asked of the ledger once for the
batch, and the references are looked up together, so a page of a full reconcile or a dry run
costs a few round trips, not a few per resource.
"""

from __future__ import annotations

from collections.abc import Sequence

from connectors.ldap.directory import Directory, Naming
from connectors.ldap.groups import group_naming
from connectors.ldap.mapping import Layout
from connectors.ldap.plan import LdapObserved
from connectors.ldap.responses import Entry
from connectors.ldap.users import user_naming
from reconcile.errors import TargetError
from reconcile.model import DesiredGroup, DesiredIdentity, ResourceKind, Tombstone
from reconcile.ports import Work

Lookup = tuple[Naming, Sequence[str], Sequence[str]]
"""How a resource's entry is searched: its naming, the attributes read, the containers it may
be adopted from."""


def lookup(layout: Layout, desired: object) -> Lookup:
    if isinstance(desired, DesiredIdentity):
        naming = user_naming(layout, desired.scim_id, desired.user_id)
        return naming, layout.managed_attributes, (layout.users_dn, layout.disabled_dn)
    if isinstance(desired, DesiredGroup):
        naming = group_naming(layout, desired.scim_id, desired.display_name)
        return (
            naming,
            [
                *layout.group_managed_attributes,
                layout.kind.members_read_as(layout.member_attribute),
            ],
            (layout.groups_dn,),
        )
    assert isinstance(desired, Tombstone)
    if desired.kind is ResourceKind.USER:
        naming = user_naming(layout, desired.scim_id, desired.name)
        return naming, [], (layout.users_dn, layout.disabled_dn)
    return group_naming(layout, desired.scim_id, desired.name), [], (layout.groups_dn,)


def references(layout: Layout, desired: object) -> list[str]:
    """The scim_ids whose DNs the plan of ``desired`` needs: its manager, or its members."""
    if isinstance(desired, DesiredIdentity):
        if layout.attributes.get("manager") and desired.manager_scim_id:
            return [desired.manager_scim_id]
        return []
    if isinstance(desired, DesiredGroup):
        return [m.scim_id for m in desired.members]
    return []


def observe(
    directory: Directory, work: Work, found: Sequence[Sequence[Entry]] | None = None
) -> list[LdapObserved]:
    """Each resource's observation, or the refusal its apply would meet. ``found`` are the
    entries already read for each (the batch's read-ahead, the full reconcile's inventory);
    without it, each is searched for, one search each."""
    layout = directory.layout
    if found is None:
        found = [
            directory.find(anchor, naming, attributes)
            for (desired, anchor) in work
            for naming, attributes, _ in [lookup(layout, desired)]
        ]
    found = [directory.layout.kind.complete(directory.session, entries) for entries in found]
    anchored = [
        _anchored(desired, anchor, entries)
        for (desired, anchor), entries in zip(work, found, strict=True)
    ]
    directory.ownership.learn(
        anchors=[
            uuid
            for entries, entry in zip(found, anchored, strict=True)
            if entry is None
            for e in entries
            if (uuid := e.entry_uuid)
        ]
    )
    wanted = [scim_id for desired, _ in work for scim_id in references(layout, desired)]
    dns = directory.user_dns(wanted) if wanted else {}
    out: list[LdapObserved] = []
    for (desired, anchor), entries, entry in zip(work, found, anchored, strict=True):
        adopted = False
        if entry is None:
            naming, _, managed = lookup(layout, desired)
            try:
                if isinstance(desired, Tombstone):
                    chosen = directory.choose_to_delete(entries, anchor, naming, managed)
                    out.append(LdapObserved(chosen))
                    continue
                entry = directory.choose(entries, anchor, naming, managed)
            except TargetError as exc:
                out.append(LdapObserved(None, refused=exc))
                continue
            adopted = entry is not None
        refused = layout.kind.refusal(entry) if entry is not None else None
        if refused is not None:
            out.append(LdapObserved(None, refused=refused))
            continue
        if isinstance(desired, DesiredIdentity):
            manager = references(layout, desired)
            manager_dn = dns.get(manager[0]) if manager else None
            out.append(LdapObserved(entry, adopted, manager_dn=manager_dn))
        else:
            assert isinstance(desired, DesiredGroup)
            members = {m.scim_id: dns[m.scim_id] for m in desired.members if m.scim_id in dns}
            out.append(LdapObserved(entry, adopted, member_dns=members))
    return out


def _anchored(desired: object, anchor: str | None, entries: Sequence[Entry]) -> Entry | None:
    """The entry found by the resource's own anchor: the usual case, decided without looking
    at names (a delete always asks who holds its entry, so it takes the long way)."""
    if not anchor or isinstance(desired, Tombstone):
        return None
    return next((e for e in entries if e.entry_uuid == anchor), None)
