"""Small helpers the DC tests share: plain ldap3 calls turned into the target's errors."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import ldap3

from connectors.ldap.active_directory import account_names
from connectors.ldap.errors import LdapResultError
from connectors.ldap.names import escape_filter_value
from connectors.ldap.settings import LdapSettings
from tests.support.samba_dc import SambaDc

USER_CLASSES = ["top", "person", "organizationalPerson", "user"]


def checked(operation: str, dn: str, answer: tuple[Any, dict[str, Any], Any, Any]) -> Any:
    """The response of a SAFE_SYNC call, or the LdapResultError the target would raise."""
    _, result, response, _ = answer
    if result["result"] != 0:
        raise LdapResultError(operation, dn, result["result"], result.get("message", ""))
    return response


def read(conn: ldap3.Connection, dn: str, *attributes: str) -> dict[str, list[bytes]]:
    response = checked(
        "search", dn, conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=list(attributes))
    )
    return dict(response[0]["raw_attributes"])


def fetcher(
    conn: ldap3.Connection,
) -> Any:
    """A :data:`connectors.ldap.active_directory.ranged.Fetch` over an ldap3 connection."""

    def fetch(dn: str, spec: str) -> Mapping[str, Sequence[bytes | str] | None]:
        return read(conn, dn, spec)

    return fetch


def taken_names(conn: ldap3.Connection, base_dn: str, prefix: str) -> Any:
    """The domain's sAMAccountNames starting with ``prefix``, as a case-blind lookup."""
    query = f"(sAMAccountName={escape_filter_value(prefix)}*)"
    response = checked(
        "search",
        base_dn,
        conn.search(base_dn, query, ldap3.SUBTREE, attributes=["sAMAccountName"]),
    )
    names = [
        e["raw_attributes"]["sAMAccountName"][0].decode()
        for e in response
        if e["type"] == "searchResEntry"
    ]
    return account_names.taken_among(names)


def unique(prefix: str) -> str:
    """A name no other test uses (sAMAccountNames are unique in the whole domain)."""
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def ad_settings(dc: SambaDc, base: str, **overrides: object) -> LdapSettings:
    """The LDAP target's settings for the DC: the ``active_directory`` kind over verified
    LDAPS as the domain administrator, everything below ``base``."""
    values: dict[str, object] = {
        "url": dc.ldaps_url,
        "bind_dn": dc.admin,
        "password": dc.admin_password,
        "base_dn": base,
        "tls_ca_file": str(dc.ca_file),
        "directory": "active_directory",
        "connections": 2,
    }
    values.update(overrides)
    return LdapSettings(**values)  # type: ignore[arg-type]
