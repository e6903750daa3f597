"""The containers entries are placed in, created when the directory lacks them.

Entries go to the users, groups and disabled DNs and to every container a mapping's placement
rules name (``ou=sales,ou=people,…``). A directory freshly set up for scim-sync has none of
the placement containers, and a create under a missing parent fails with "no such object" for
every user of that department, so the target creates them once per process, parents first.
Only ``ou=`` entries below the base DN are created: anything else (a ``cn=`` container, a DN
outside the base) is the directory administrator's to make, and the target says so instead of
guessing an object class. Placement DNs never leave the managed subtrees (``mapping check``
refuses them), so nothing is created outside what scim-sync manages.
"""

from __future__ import annotations

import logging

from connectors.ldap.connection import Session
from connectors.ldap.directory import ENTRY_ALREADY_EXISTS
from connectors.ldap.errors import LdapResultError
from connectors.ldap.mapping import Layout
from connectors.ldap.names import dn_key, first_value, is_within, parent_dn, parse_dn
from reconcile.errors import TargetUnavailableError

log = logging.getLogger(__name__)


def chain(dn: str, base_dn: str) -> list[str]:
    """``dn`` and its ancestors strictly below ``base_dn``, parents first."""
    out: list[str] = []
    top = dn_key(base_dn)
    while dn and is_within(dn, base_dn) and dn_key(dn) != top:
        out.append(dn)
        dn = parent_dn(dn)
    return out[::-1]


def needed(layout: Layout) -> list[str]:
    """Every container to make sure of, each once, parents before children."""
    unique: dict[object, str] = {}
    for container in layout.containers:
        for dn in chain(container, layout.base_dn):
            unique.setdefault(dn_key(dn), dn)
    return list(unique.values())


def ensure_containers(session: Session, layout: Layout) -> None:
    """Create each missing container of :func:`needed` as an organizational unit."""
    if session.read(layout.base_dn, ["1.1"]) is None:
        raise TargetUnavailableError(
            f"the base DN '{layout.base_dn}' does not exist in the directory "
            "(SCIM_SYNC_LDAP_BASE_DN)"
        )
    for container in layout.containers:
        if not is_within(container, layout.base_dn):
            raise TargetUnavailableError(
                f"the container '{container}' is not below the base DN '{layout.base_dn}'; "
                "scim-sync cannot create it: create it"
            )
    for dn in needed(layout):
        if session.read(dn, ["1.1"]) is not None:
            continue
        if parse_dn(dn)[0][0][0].lower() != "ou":
            raise TargetUnavailableError(
                f"the container '{dn}' does not exist and is not an ou= entry below the "
                "base DN that scim-sync could create; create it"
            )
        try:
            session.add(dn, ["organizationalUnit"], {"ou": [first_value(dn)]})
        except LdapResultError as exc:
            if exc.code != ENTRY_ALREADY_EXISTS:  # another worker was first: fine
                raise TargetUnavailableError(
                    f"cannot create the container '{dn}': {exc}; create it"
                ) from exc
        log.info("ldap container created", extra={"dn": dn})
