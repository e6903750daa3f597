"""How a desired identity or group becomes an LDAP entry: attributes, object classes, DNs.

Pure functions over settings and the core's model, so the mapping is unit-tested without a
server and the target only has to compare and write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from connectors.ldap.names import escape_dn_value
from connectors.ldap.settings import (
    DEFAULT_ATTRIBUTE_MAP,
    LdapSettings,
    parse_attribute_map,
)
from reconcile.model import DesiredIdentity


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

    @classmethod
    def from_settings(cls, settings: LdapSettings) -> Layout:
        attribute, _, value = settings.disabled_attribute.partition("=")
        return cls(
            base_dn=settings.base_dn,
            users_dn=settings.people,
            groups_dn=settings.groups,
            disabled_dn=settings.disabled,
            disable=settings.disable,
            adopt=settings.adopt,
            user_object_classes=tuple(settings.user_object_classes.split()),
            user_rdn=settings.user_rdn,
            group_object_class=settings.group_object_class,
            attributes=parse_attribute_map(settings.attribute_map),
            disabled_attribute=(attribute.strip(), value.strip()),
            placeholder_member=settings.placeholder_member,
        )

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
        if self.disable == "attribute":
            names.add(self.disabled_attribute[0])
        return sorted(names)

    def user_values(self, desired: DesiredIdentity, manager_dn: str | None) -> dict[str, list[str]]:
        """The managed attributes of a user entry; an empty list means "absent"."""
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
        if self.disable == "attribute":
            attribute, flag = self.disabled_attribute
            values[attribute] = [] if desired.active else [flag]
        return values

    def user_dn(self, desired: DesiredIdentity, values: Mapping[str, list[str]]) -> str:
        """``uid=<user_id>,<users DN>``, or under the disabled DN for a disabled user (move)."""
        naming = values.get(self.user_rdn) or [desired.user_id]
        parent = (
            self.disabled_dn if self.disable == "move" and not desired.active else self.users_dn
        )
        return f"{self.user_rdn}={escape_dn_value(naming[0])},{parent}"

    def group_dn(self, display_name: str) -> str:
        return f"cn={escape_dn_value(display_name)},{self.groups_dn}"

    def group_values(self, display_name: str) -> dict[str, list[str]]:
        return {"cn": [display_name]}
