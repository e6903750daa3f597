"""The LDAP target's settings: typed, documented per field, read once by ``scheduler``.

The field metadata (``doc``, ``env``, ``secret``) has the shape ``scheduler.settings`` expects,
so the variables appear in ``describe()`` and the README like every other setting.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from connectors.delivery.sink import MIN_WEBHOOK_SECRET, url_problem
from connectors.ldap.active_directory.foreign_owners import DEFAULT_ATTRIBUTES, parse_attributes
from connectors.ldap.active_directory.group_types import GroupTypeError
from connectors.ldap.active_directory.group_types import group_type as ad_group_type
from connectors.ldap.names import DnSyntaxError, is_within
from reconcile.mapping import TargetMapping

PREFIX = "SCIM_SYNC_"
DISABLE_POLICIES = ("move", "attribute", "delete")
ADOPT_POLICIES = ("subtree", "anywhere", "never")
GROUP_OBJECT_CLASSES = ("groupOfNames", "groupOfUniqueNames")
DIRECTORIES = ("openldap", "active_directory")
ACTIVE_DIRECTORY_READY = True
"""Whether the reconciler writes AD's way yet: the AD rules exist, the planner does not use
them yet, and an AD setting that was silently ignored would write OpenLDAP entries into a
domain. Flipped where the directory kind is plugged into the planner."""
NOT_READY = (
    "SCIM_SYNC_LDAP_DIRECTORY=active_directory is not available in this build yet (the AD "
    "rules are there, the AD write path is not); leave it at openldap"
)
_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")


def _doc(text: str, env: str, secret: bool = False) -> Any:
    return {"doc": text, "env": PREFIX + env, "secret": secret}


DEFAULT_ATTRIBUTE_MAP: Mapping[str, str] = {
    "user_id": "uid",
    "email": "mail",
    "given_name": "givenName",
    "family_name": "sn",
    "display_name": "displayName",
    "common_name": "cn",
    "title": "title",
    "department": "departmentNumber",
    "employee_number": "employeeNumber",
    "manager": "manager",
}
"""Model field → LDAP attribute (docs/ldap.md, Mapping). ``common_name`` is the display
name, else "given family", else the user ID (``cn`` is mandatory); ``family_name`` falls back to
the user ID (``sn`` is mandatory); ``manager`` holds the manager's DN."""


class MappingError(ValueError):
    """The attribute map setting names an unknown field or a malformed pair."""


AD_ATTRIBUTE_MAP: Mapping[str, str] = {
    **{k: v for k, v in DEFAULT_ATTRIBUTE_MAP.items() if k != "employee_number"},
    "department": "department",
}
"""The map of the ``active_directory`` kind: AD's ``department``; no ``employeeNumber`` (the
kind writes the userName to ``employeeID`` when it fits, docs/active-directory.md)."""


def parse_attribute_map(
    text: str, defaults: Mapping[str, str] = DEFAULT_ATTRIBUTE_MAP
) -> dict[str, str]:
    """The default map changed by ``field=attribute`` pairs (spaces or commas between them)."""
    result = dict(defaults)
    for pair in text.replace(",", " ").split():
        name, sep, attribute = pair.partition("=")
        if not sep or name not in DEFAULT_ATTRIBUTE_MAP:
            known = ", ".join(DEFAULT_ATTRIBUTE_MAP)
            raise MappingError(
                f"SCIM_SYNC_LDAP_ATTRIBUTE_MAP: '{pair}' is not field=attribute with a field "
                f"among {known}"
            )
        if attribute:
            result[name] = attribute
        else:
            result.pop(name, None)
    for required in ("user_id",):
        if required not in result:
            raise MappingError(f"SCIM_SYNC_LDAP_ATTRIBUTE_MAP: '{required}' cannot be unmapped")
    return result


@dataclass(frozen=True)
class LdapSettings:
    url: str = field(
        default="",
        metadata=_doc("LDAP URLs separated by spaces; unset means no LDAP target", "LDAP_URL"),
    )
    bind_dn: str = field(default="", metadata=_doc("DN to bind as", "LDAP_BIND_DN"))
    password: str = field(
        default="", metadata=_doc("password of the bind DN", "LDAP_PASSWORD", True)
    )
    base_dn: str = field(
        default="", metadata=_doc("base DN, required with an LDAP URL", "LDAP_BASE_DN")
    )
    users_dn: str = field(
        default="", metadata=_doc("where users live (default ou=people,BASE)", "LDAP_USERS_DN")
    )
    groups_dn: str = field(
        default="", metadata=_doc("where groups live (default ou=groups,BASE)", "LDAP_GROUPS_DN")
    )
    disabled_dn: str = field(
        default="",
        metadata=_doc("where disabled users go (default ou=disabled,BASE)", "LDAP_DISABLED_DN"),
    )
    disable: str = field(
        default="move", metadata=_doc("disable policy: move, attribute or delete", "LDAP_DISABLE")
    )
    tls_ca_file: str = field(
        default="",
        metadata=_doc("CA certificates for LDAPS/StartTLS; always verified", "LDAP_TLS_CA_FILE"),
    )
    starttls: bool = field(
        default=False, metadata=_doc("upgrade ldap:// connections with StartTLS", "LDAP_STARTTLS")
    )
    allow_cleartext: bool = field(
        default=False,
        metadata=_doc(
            "allow the bind password over ldap:// without StartTLS to a host other than this "
            "machine (refused at start otherwise)",
            "LDAP_ALLOW_CLEARTEXT",
        ),
    )
    adopt: str = field(
        default="subtree",
        metadata=_doc(
            "an existing entry with the same uid: subtree (adopt it only inside the users or "
            "disabled DN), anywhere (adopt it anywhere under BASE), never (refuse it)",
            "LDAP_ADOPT",
        ),
    )
    user_object_classes: str = field(
        default="inetOrgPerson organizationalPerson person top",
        metadata=_doc("object classes of a new user entry", "LDAP_USER_OBJECT_CLASSES"),
    )
    user_rdn: str = field(
        default="uid",
        metadata=_doc(
            "attribute naming a user entry (uid, or cn for display names)", "LDAP_USER_RDN"
        ),
    )
    group_object_class: str = field(
        default="groupOfNames",
        metadata=_doc(
            "groupOfNames (member) or groupOfUniqueNames (uniqueMember)", "LDAP_GROUP_OBJECT_CLASS"
        ),
    )
    attribute_map: str = field(
        default="",
        metadata=_doc(
            "changes to the user attribute map as field=attribute pairs, e.g. "
            "'department=ou title=' (an empty attribute stops writing that field)",
            "LDAP_ATTRIBUTE_MAP",
        ),
    )
    disabled_attribute: str = field(
        default="employeeType=disabled",
        metadata=_doc(
            "attribute=value set on a disabled user under the 'attribute' policy",
            "LDAP_DISABLED_ATTRIBUTE",
        ),
    )
    empty_group_member: str = field(
        default="",
        metadata=_doc(
            "placeholder member of a group with no members (default cn=nobody,BASE)",
            "LDAP_EMPTY_GROUP_MEMBER",
        ),
    )
    connections: int = field(
        default=8,
        metadata=_doc("connections used in parallel by one reconcile run", "LDAP_CONNECTIONS"),
    )
    timeout: timedelta = field(
        default=timedelta(seconds=10),
        metadata=_doc("connect and response timeout of one LDAP operation", "LDAP_TIMEOUT"),
    )
    mapping: TargetMapping | None = field(default=None, compare=False)
    """The LDAP part of the declarative mapping (``SCIM_SYNC_MAPPING_FILE``), compiled once
    by ``scheduler``; None: the defaults alone. Not a variable of its own."""

    directory: str = field(
        default="openldap",
        metadata=_doc(
            "kind of directory: openldap, or active_directory (docs/active-directory.md)",
            "LDAP_DIRECTORY",
        ),
    )
    password_sink: str = field(
        default="none",
        metadata=_doc(
            "active_directory: where the first password of a new account is handed over: none, "
            "file:PATH (a JSON line per account, mode 0600) or webhook:URL (signed POST); "
            "never stored or logged otherwise",
            "LDAP_PASSWORD_SINK",
        ),
    )
    password_webhook_secret: str = field(
        default="",
        repr=False,
        metadata=_doc(
            "active_directory: the HMAC key signing first-password webhook deliveries "
            "(at least 32 characters)",
            "LDAP_PASSWORD_WEBHOOK_SECRET",
            secret=True,
        ),
    )
    must_change_password: bool = field(
        default=True,
        metadata=_doc(
            "active_directory: a new account must change its first password at logon "
            "(pwdLastSet=0)",
            "LDAP_MUST_CHANGE_PASSWORD",
        ),
    )
    group_type: str = field(
        default="global security",
        metadata=_doc(
            "active_directory: scope and kind of a new group: global, domain_local or "
            "universal, then security or distribution",
            "LDAP_GROUP_TYPE",
        ),
    )
    foreign_owner_attributes: str = field(
        default=" ".join(DEFAULT_ATTRIBUTES),
        metadata=_doc(
            "active_directory: attributes that mark an object another sync engine manages "
            "(e.g. Entra Connect's anchor); such objects are never changed",
            "LDAP_FOREIGN_OWNER_ATTRIBUTES",
        ),
    )

    @property
    def active_directory(self) -> bool:
        return self.directory == "active_directory"

    @property
    def foreign_markers(self) -> tuple[str, ...]:
        return parse_attributes(self.foreign_owner_attributes)

    @property
    def urls(self) -> list[str]:
        return self.url.split()

    def cleartext_urls(self) -> list[str]:
        """The URLs over which the bind password would cross a network in clear text."""
        if not self.password or self.starttls:
            return []
        return [url for url in self.urls if _cleartext_remote(url)]

    def under_base(self, value: str, default_rdn: str) -> str:
        return value or f"{default_rdn},{self.base_dn}"

    @property
    def people(self) -> str:
        return self.under_base(self.users_dn, "ou=people")

    @property
    def groups(self) -> str:
        return self.under_base(self.groups_dn, "ou=groups")

    @property
    def disabled(self) -> str:
        return self.under_base(self.disabled_dn, "ou=disabled")

    @property
    def placeholder_member(self) -> str:
        return self.under_base(self.empty_group_member, "cn=nobody")

    def problems(self) -> list[str]:
        """What is wrong with these settings, each naming its variable; empty when usable."""
        if not self.url:
            return []
        out = []
        if not self.base_dn:
            out.append("SCIM_SYNC_LDAP_BASE_DN is required when SCIM_SYNC_LDAP_URL is set")
        for url in self.urls:
            if not url.lower().startswith(("ldap://", "ldaps://")):
                out.append(f"SCIM_SYNC_LDAP_URL: '{url}' is not an ldap:// or ldaps:// URL")
        if self.disable not in DISABLE_POLICIES:
            out.append("SCIM_SYNC_LDAP_DISABLE must be move, attribute or delete")
        if self.adopt not in ADOPT_POLICIES:
            out.append("SCIM_SYNC_LDAP_ADOPT must be subtree, anywhere or never")
        if self.group_object_class not in GROUP_OBJECT_CLASSES:
            out.append(
                "SCIM_SYNC_LDAP_GROUP_OBJECT_CLASS must be groupOfNames or groupOfUniqueNames"
            )
        if "=" not in self.disabled_attribute:
            out.append("SCIM_SYNC_LDAP_DISABLED_ATTRIBUTE must look like attribute=value")
        try:
            parse_attribute_map(self.attribute_map)
        except MappingError as exc:
            out.append(str(exc))
        if self.connections < 1:
            out.append("SCIM_SYNC_LDAP_CONNECTIONS must be at least 1")
        has_tls = self.starttls or any(u.lower().startswith("ldaps://") for u in self.urls)
        if self.tls_ca_file and not has_tls:
            out.append(
                "SCIM_SYNC_LDAP_TLS_CA_FILE is set but no URL is ldaps:// and "
                "SCIM_SYNC_LDAP_STARTTLS is off: the connection would not use TLS"
            )
        out.extend(self._directory_problems(has_tls))
        for name, dn in (
            ("USERS_DN", self.people),
            ("GROUPS_DN", self.groups),
            ("DISABLED_DN", self.disabled),
        ):
            if self.base_dn and not _within(dn, self.base_dn):
                out.append(f"SCIM_SYNC_LDAP_{name}: '{dn}' must lie below SCIM_SYNC_LDAP_BASE_DN")
        return out

    def _directory_problems(self, has_tls: bool) -> list[str]:
        """The directory kind and the Active Directory settings."""
        if self.directory not in DIRECTORIES:
            return ["SCIM_SYNC_LDAP_DIRECTORY must be openldap or active_directory"]
        out = []
        if self.active_directory and not ACTIVE_DIRECTORY_READY:
            out.append(NOT_READY)
        if self.active_directory and not has_tls:
            out.append(
                "SCIM_SYNC_LDAP_DIRECTORY=active_directory needs an ldaps:// URL or "
                "SCIM_SYNC_LDAP_STARTTLS=true: AD takes passwords only over encrypted connections"
            )
        sink = self.password_sink
        name = "SCIM_SYNC_LDAP_PASSWORD_SINK"
        if sink.startswith("file:"):
            if not sink.removeprefix("file:").strip():
                out.append(f"{name}: file: needs a path")
        elif sink.startswith("webhook:"):
            problem = url_problem(name, sink.removeprefix("webhook:"), "a first password")
            if problem:
                out.append(problem)
            if len(self.password_webhook_secret) < MIN_WEBHOOK_SECRET:
                out.append(
                    f"{name}=webhook:… needs SCIM_SYNC_LDAP_PASSWORD_WEBHOOK_SECRET, a shared "
                    f"secret of at least {MIN_WEBHOOK_SECRET} characters (openssl rand -hex 32)"
                )
        elif sink != "none":
            out.append(f"{name}: '{sink}' is not none, file:PATH or webhook:URL")
        scope, _, kind = self.group_type.partition(" ")
        try:
            ad_group_type(scope or "global", kind.strip() or "security")
        except GroupTypeError as exc:
            out.append(f"SCIM_SYNC_LDAP_GROUP_TYPE: {exc}")
        bad = [a for a in self.foreign_markers if not _ATTRIBUTE_NAME.match(a)]
        if bad:
            out.append(
                f"SCIM_SYNC_LDAP_FOREIGN_OWNER_ATTRIBUTES: {', '.join(bad)} "
                "is not an attribute name"
            )
        return out


def _cleartext_remote(url: str) -> bool:
    """An ``ldap://`` URL (any case) to a host that may not be this machine.

    Only ``localhost`` and loopback addresses (``127.0.0.0/8``, ``::1``, and IPv4 loopback
    written as IPv6) count as this machine; any other name, an empty host, and shorthand such
    as ``127.1`` are taken to be remote, since what they resolve to is not known here.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() != "ldap":
        return False
    host = (parts.hostname or "").rstrip(".")
    if host == "localhost":
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return True
    mapped = getattr(address, "ipv4_mapped", None)
    return not (address.is_loopback or (mapped is not None and mapped.is_loopback))


def _within(dn: str, base: str) -> bool:
    try:
        return is_within(dn, base)
    except DnSyntaxError:
        return False
