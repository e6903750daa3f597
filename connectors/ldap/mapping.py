"""How a desired identity or group becomes an LDAP entry: attributes, object classes, DNs.

Pure functions over settings and the core's model, so the mapping is unit-tested without a
server and the target only has to compare and write. Without a declarative mapping the
entry is what the attribute map (``SCIM_SYNC_LDAP_ATTRIBUTE_MAP``) says; a mapping's keys then
add attributes or take over default ones (docs/mapping.md), and its placement rules choose
the container below the users or groups DN.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from connectors.ldap.active_directory.handover import password_handover
from connectors.ldap.active_directory.kind import AD_USER_CLASSES, UAC, ActiveDirectory
from connectors.ldap.kinds import OPENLDAP, DirectoryKind
from connectors.ldap.names import dn_key, escape_dn_value
from connectors.ldap.settings import (
    AD_ATTRIBUTE_MAP,
    DEFAULT_ATTRIBUTE_MAP,
    LdapSettings,
    parse_attribute_map,
)
from reconcile.mapping import KindMapping, TargetMapping
from reconcile.model import DesiredGroup, DesiredIdentity


def _without(attributes: Mapping[str, str], names: Iterable[str]) -> dict[str, str]:
    """The attribute map minus the LDAP attributes a mapping takes over or leaves alone (the
    key attribute, ``user_id``, always stays: a mapping may not touch it)."""
    taken = {n.casefold() for n in names}
    return {
        field_name: attribute
        for field_name, attribute in attributes.items()
        if field_name == "user_id" or attribute.casefold() not in taken
    }


@dataclass(frozen=True)
class Layout:
    """Where entries live and what they look like, resolved once from the settings."""

    base_dn: str
    users_dn: str
    groups_dn: str
    disabled_dn: str
    disable: str
    adopt: str
    user_object_classes: tuple[str, ...]
    user_rdn: str
    group_object_class: str
    attributes: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ATTRIBUTE_MAP))
    disabled_attribute: tuple[str, str] = ("employeeType", "disabled")
    placeholder_member: str = ""
    mapping: TargetMapping | None = None
    kind: DirectoryKind = OPENLDAP
    """What differs between directory kinds (:mod:`connectors.ldap.kinds`)."""

    @classmethod
    def from_settings(cls, settings: LdapSettings) -> Layout:
        attribute, _, value = settings.disabled_attribute.partition("=")
        defaults = AD_ATTRIBUTE_MAP if settings.active_directory else DEFAULT_ATTRIBUTE_MAP
        attributes = parse_attribute_map(settings.attribute_map, defaults)
        users = settings.mapping.user if settings.mapping else None
        if users is not None:
            attributes = _without(attributes, (*users.keys, *users.unmanaged))
        layout = cls(
            base_dn=settings.base_dn,
            users_dn=settings.people,
            groups_dn=settings.groups,
            disabled_dn=settings.disabled,
            disable=settings.disable,
            adopt=settings.adopt,
            user_object_classes=tuple(settings.user_object_classes.split()),
            user_rdn=settings.user_rdn,
            group_object_class=settings.group_object_class,
            attributes=attributes,
            disabled_attribute=(attribute.strip(), value.strip()),
            placeholder_member=settings.placeholder_member,
            mapping=settings.mapping,
        )
        return layout._active_directory(settings) if settings.active_directory else layout

    def _active_directory(self, settings: LdapSettings) -> Layout:
        """AD's layout: ``user`` and ``group`` objects named by CN, no placeholder member,
        the enabled state in ``userAccountControl`` (docs/active-directory.md)."""
        scope, _, kind = settings.group_type.partition(" ")
        return replace(
            self,
            user_object_classes=AD_USER_CLASSES,
            user_rdn="cn",
            group_object_class="group",
            disabled_attribute=(UAC, ""),
            placeholder_member="",
            kind=ActiveDirectory(
                base_dn=settings.base_dn,
                markers=settings.foreign_markers,
                must_change_password=settings.must_change_password,
                group_scope=scope or "global",
                group_kind=kind.strip() or "security",
                where=settings.url,
                handover=password_handover(
                    settings.password_sink, settings.password_webhook_secret
                ),
            ),
        )

    @property
    def state_attribute(self) -> str | None:
        """The attribute whose change is an enable or a disable rather than an update."""
        if self.kind.name != OPENLDAP.name:
            return self.disabled_attribute[0]
        return self.disabled_attribute[0] if self.disable == "attribute" else None

    @property
    def user_mapping(self) -> KindMapping | None:
        return self.mapping.user if self.mapping else None

    @property
    def group_mapping(self) -> KindMapping | None:
        return self.mapping.group if self.mapping else None

    @property
    def member_attribute(self) -> str:
        return "uniqueMember" if self.group_object_class == "groupOfUniqueNames" else "member"

    @property
    def uid_attribute(self) -> str:
        return self.attributes["user_id"]

    @property
    def user_class(self) -> str:
        """The object class that marks a user entry in searches (the first one listed)."""
        return self.user_object_classes[0]

    @property
    def managed_attributes(self) -> list[str]:
        """Every attribute scim-sync writes on a user, for searches and comparisons."""
        names = set(self.attributes.values())
        if self.user_mapping is not None:
            names.update(self.user_mapping.keys)
        if self.disable == "attribute":
            names.add(self.disabled_attribute[0])
        names.update(self.kind.user_attributes)
        return sorted(names)

    @property
    def group_managed_attributes(self) -> list[str]:
        """Every attribute scim-sync writes on a group besides its members."""
        mapped = self.group_mapping.keys if self.group_mapping is not None else ()
        return sorted({"cn", *mapped, *self.kind.group_attributes})

    @property
    def containers(self) -> list[str]:
        """Every container entries may be placed in: the users, groups and disabled DNs and
        each placement rule's DN, parents before children (so they can be created in order)."""
        dns = [self.users_dn, self.groups_dn, self.disabled_dn]
        for kind in (self.user_mapping, self.group_mapping):
            dns.extend(rule.dn for rule in (kind.placement if kind else ()))
        unique: dict[object, str] = {}
        for dn in dns:
            unique.setdefault(dn_key(dn), dn)
        return sorted(unique.values(), key=lambda dn: len(dn_key(dn)))

    def user_values(self, desired: DesiredIdentity, manager_dn: str | None) -> dict[str, list[str]]:
        """The managed attributes of a user entry; an empty list means "absent". Raises
        :class:`reconcile.mapping.MappingRenderError` when a mapped template fails for it."""
        family = desired.family_name or desired.user_id
        given_family = " ".join(p for p in (desired.given_name, desired.family_name) if p)
        sources: dict[str, str | None] = {
            "user_id": desired.user_id,
            "email": desired.email,
            "given_name": desired.given_name,
            "family_name": family,
            "display_name": desired.display_name,
            "common_name": desired.display_name or given_family or desired.user_id,
            "title": desired.title,
            "department": desired.department,
            "employee_number": desired.employee_number,
            "manager": manager_dn,
        }
        values: dict[str, list[str]] = {}
        for name, attribute in self.attributes.items():
            value = sources[name]
            values.setdefault(attribute, [])
            if value not in (None, "") and value not in values[attribute]:
                values[attribute].append(value)
        if self.user_mapping is not None:
            values.update(self.user_mapping.render(desired))
        if self.disable == "attribute":
            attribute, flag = self.disabled_attribute
            values[attribute] = [] if desired.active else [flag]
        return values

    def user_container(self, desired: DesiredIdentity) -> str:
        """The disabled DN for a disabled user (``move``), else the first placement rule that
        matches, else the users DN."""
        if self.disable == "move" and not desired.active:
            return self.disabled_dn
        placed = self.user_mapping.place(desired) if self.user_mapping is not None else None
        return placed or self.users_dn

    def user_dn(self, desired: DesiredIdentity, values: Mapping[str, list[str]]) -> str:
        """``uid=<user_id>,<container>`` (see :meth:`user_container`)."""
        naming = values.get(self.user_rdn) or [desired.user_id]
        return f"{self.user_rdn}={escape_dn_value(naming[0])},{self.user_container(desired)}"

    def group_container(self, desired: DesiredGroup) -> str:
        """The first placement rule that matches the group, else the groups DN."""
        placed = self.group_mapping.place(desired) if self.group_mapping is not None else None
        return placed or self.groups_dn

    def group_dn(self, display_name: str, container: str | None = None) -> str:
        """``cn=<displayName>,<container>``; the groups DN when no container is given (a
        mapped group's comes from :meth:`group_container`)."""
        return f"cn={escape_dn_value(display_name)},{container or self.groups_dn}"

    def group_values(self, desired: DesiredGroup) -> dict[str, list[str]]:
        """A group entry's attributes besides its members: ``cn`` and what the mapping adds."""
        values = {"cn": [desired.display_name]}
        if self.group_mapping is not None:
            values.update(self.group_mapping.render(desired))
        return values
