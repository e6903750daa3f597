"""Reading the directory back in tests, through a root connection."""

from __future__ import annotations

from typing import Any

import ldap3

from connectors.ldap.names import escape_filter_value
from reconcile.model import DesiredGroup, DesiredIdentity, MemberRef


def entries(conn: ldap3.Connection, base: str, search_filter: str) -> list[dict[str, Any]]:
    _, result, response, _ = conn.search(
        base, search_filter, attributes=[ldap3.ALL_ATTRIBUTES, "entryUUID", "entryCSN"]
    )
    assert result["result"] in (0, 32), result
    return [
        {
            "dn": r["dn"],
            **{k.lower(): [v.decode() for v in vs] for k, vs in r["raw_attributes"].items()},
        }
        for r in response or []
        if r["type"] == "searchResEntry"
    ]


def user_entry(conn: ldap3.Connection, base: str, user_id: str) -> dict[str, Any] | None:
    found = entries(
        conn, base, f"(&(objectClass=inetOrgPerson)(uid={escape_filter_value(user_id)}))"
    )
    assert len(found) <= 1, found
    return found[0] if found else None


def group_entry(conn: ldap3.Connection, base: str, name: str) -> dict[str, Any] | None:
    found = entries(conn, base, f"(&(objectClass=groupOfNames)(cn={escape_filter_value(name)}))")
    assert len(found) <= 1, found
    return found[0] if found else None


def identity(user_id: str, generation: int = 1, **fields: Any) -> DesiredIdentity:
    values: dict[str, Any] = {
        "email": f"{user_id.lower()}@example.com",
        "given_name": "Given",
        "family_name": "Family",
        "display_name": f"User {user_id}",
        "title": "Engineer",
        "department": "Research",
        "employee_number": user_id,
    }
    values.update(fields)
    if values.get("manager_user_id") and "manager_scim_id" not in values:
        values["manager_scim_id"] = f"id-{values['manager_user_id']}"
    return DesiredIdentity(
        scim_id=f"id-{user_id}", generation=generation, user_id=user_id, **values
    )


def group(
    name: str, *user_ids: str, scim_id: str | None = None, generation: int = 1
) -> DesiredGroup:
    return DesiredGroup(
        scim_id=scim_id or f"gid-{name}",
        generation=generation,
        display_name=name,
        members=frozenset(MemberRef(f"id-{u}", u) for u in user_ids),
    )
