"""How a group's entry is looked up by name.

A group's membership is changed by value deltas only (:mod:`connectors.ldap.plan`).

``groupOfNames`` (and ``groupOfUniqueNames``) must have at least one member, while Entra creates
every group empty and adds members later. scim-sync keeps such a group valid with one placeholder
member, a DN that names no entry (``SCIM_SYNC_LDAP_EMPTY_GROUP_MEMBER``, default
``cn=nobody,BASE``): it is written when the last real member leaves and removed in the same modify
that adds the first one, so the group is never empty and nobody gains rights through it.
"""

from __future__ import annotations

from connectors.ldap.directory import Naming, eq
from connectors.ldap.mapping import Layout


def group_filter(layout: Layout, display_name: str) -> str:
    """Groups named ``display_name``: by ``cn``, or where the directory kind keeps the whole
    name elsewhere (AD's ``displayName``), by that or by ``cn`` (a group made by hand)."""
    attribute = layout.kind.group_name_attribute
    named = eq("cn", display_name)
    if attribute != "cn":
        named = f"(|{eq(attribute, display_name)}{named})"
    return f"(&{eq('objectClass', layout.group_object_class)}{named})"


def group_naming(layout: Layout, scim_id: str, display_name: str) -> Naming:
    attribute = layout.kind.group_name_attribute
    return Naming(
        owner=scim_id,
        attribute=attribute,
        value=display_name,
        filter=group_filter(layout, display_name),
        what=f"group '{display_name}' (id {scim_id})",
        fallback=None if attribute == "cn" else "cn",
    )
