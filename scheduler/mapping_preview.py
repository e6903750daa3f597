"""What each target would hold for one staged resource under the configured mapping.

The same functions the targets call (:class:`connectors.ldap.mapping.Layout`,
:func:`connectors.identity_store.mapping.extra_attributes`), so the preview cannot say one
thing and a run do another. Nothing is written and no target is contacted: a user's manager is
shown at the DN the mapping gives the manager's own staged record.
"""

from __future__ import annotations

from typing import Any

from connectors.identity_store.mapping import extra_attributes
from connectors.identity_store.planner import GROUP_FIELDS, wanted_identity
from connectors.ldap.active_directory import account_names
from connectors.ldap.active_directory.kind import ActiveDirectory
from connectors.ldap.mapping import Layout
from inbound.database.desired import StagedDesiredState
from reconcile.mapping import MappingRenderError
from reconcile.model import DesiredGroup, DesiredIdentity
from scheduler.settings import Settings


def target_names(settings: Settings) -> list[str]:
    return ["identity_store", *(["ldap"] if settings.ldap.url else [])]


def preview_identity_store(
    settings: Settings, desired: DesiredIdentity | DesiredGroup
) -> dict[str, Any]:
    return {
        "columns": _columns(desired),
        "extra": extra_attributes(settings.mapping.target("identity_store"), desired),
    }


def preview_ldap(
    settings: Settings, desired: DesiredIdentity | DesiredGroup, staged: StagedDesiredState
) -> dict[str, Any]:
    layout = Layout.from_settings(settings.ldap)
    if isinstance(desired, DesiredGroup):
        group_values = layout.group_values(desired)
        layout.kind.group_values(desired, group_values, None)  # as the planner does
        return {
            "dn": layout.group_dn(group_values["cn"][0], layout.group_container(desired)),
            "object_classes": [layout.group_object_class],
            "attributes": group_values,
            "members": len(desired.members),
            **_settled_at_add(layout, desired.display_name),
        }
    if layout.disable == "delete" and not desired.active:
        return {"dn": None, "note": "disabled users are deleted (SCIM_SYNC_LDAP_DISABLE=delete)"}
    manager_dn = None
    if desired.manager_scim_id and "manager" in layout.attributes:
        manager = staged.load([desired.manager_scim_id]).get(desired.manager_scim_id)
        if isinstance(manager, DesiredIdentity):
            manager_dn = layout.user_dn(manager, _user_values(layout, manager, None))
    values = _user_values(layout, desired, manager_dn)
    return {
        "dn": layout.user_dn(desired, values),
        "object_classes": list(layout.user_object_classes),
        "attributes": {k: v for k, v in values.items() if v},
        "absent": sorted(k for k, v in values.items() if not v),
        **_settled_at_add(layout, desired.user_id),
    }


def _user_values(
    layout: Layout, desired: DesiredIdentity, manager_dn: str | None
) -> dict[str, list[str]]:
    """A new entry's values as the planner makes them: the layout's, then the kind's own."""
    values = layout.user_values(desired, manager_dn)
    layout.kind.user_values(desired, values, None)
    return values


def _settled_at_add(layout: Layout, source: str) -> dict[str, str]:
    """Active Directory settles some names only when the object is added, against what the
    domain holds then: the preview says which, and the name it would try first."""
    if not isinstance(layout.kind, ActiveDirectory):
        return {}
    return {
        "note": (
            f"sAMAccountName '{account_names.default_name(source)}' unless the domain holds "
            "it (then a numbered one), a clash suffix on the CN, and a user's first password "
            "are settled when the object is added"
        )
    }


def preview(
    settings: Settings,
    staged: StagedDesiredState,
    desired: DesiredIdentity | DesiredGroup,
    targets: list[str],
) -> dict[str, Any]:
    """Per target: what it would hold, or the error its mapping meets for this resource."""
    out: dict[str, Any] = {}
    for name in targets:
        try:
            if name == "ldap":
                out[name] = preview_ldap(settings, desired, staged)
            else:
                out[name] = preview_identity_store(settings, desired)
        except MappingRenderError as exc:
            out[name] = {"error": exc.reason}
    return out


def _columns(desired: DesiredIdentity | DesiredGroup) -> dict[str, object]:
    """The record's columns as the store's planner wants them."""
    if isinstance(desired, DesiredIdentity):
        return {"user_id": desired.user_id, **wanted_identity(desired)}
    return {name: getattr(desired, name) for name in GROUP_FIELDS}
