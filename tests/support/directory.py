"""The test directory: a fresh subtree per test below slapd's suffix, settings that point at it,
the entries read back through a root connection, and a count of the requests that reach the
wire, by who sent them."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from typing import Any

import ldap3
import pytest

from connectors.ldap.names import escape_filter_value
from connectors.ldap.settings import LdapSettings
from connectors.ldap.wire import Done, Request, Result, Wire
from reconcile.model import DesiredGroup, DesiredIdentity, MemberRef
from scheduler.composition import Runtime, compose
from scheduler.settings import Settings
from tests.support.clock import FakeClock
from tests.support.slapd import ROOT_DN, ROOT_PW, SUFFIX


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


def admin(url: str) -> ldap3.Connection:
    server = ldap3.Server(url, get_info=ldap3.NONE)
    return ldap3.Connection(
        server, ROOT_DN, ROOT_PW, client_strategy=ldap3.SAFE_SYNC, auto_bind=True, check_names=False
    )


def fresh_base(url: str) -> str:
    """A new, empty ``ou=`` below the suffix: each test sees only its own entries."""
    base = f"ou=t{uuid.uuid4().hex[:10]},{SUFFIX}"
    conn = admin(url)
    try:
        _, result, _, _ = conn.add(base, ["organizationalUnit"], {"ou": base[3:13]})
        assert result["result"] == 0, result
    finally:
        conn.unbind()
    return base


def settings_for(url: str, base: str, **overrides: object) -> LdapSettings:
    values: dict[str, object] = {
        "url": url,
        "bind_dn": ROOT_DN,
        "password": ROOT_PW,
        "base_dn": base,
        "connections": 2,
    }
    values.update(overrides)
    return LdapSettings(**values)  # type: ignore[arg-type]


def compose_with_ldap(database_url: str, clock: FakeClock, url: str) -> Runtime:
    ldap = settings_for(url, fresh_base(url))
    return compose(
        Settings(database_url=database_url, ldap=ldap), public_url="http://scim.test", clock=clock
    )


class Sent:
    """Counts the requests that reach the wire: those of the batch's writer thread
    (``ldap-batch``), and all the others."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.batch = self.others = 0
        original = Wire.exchange

        def counting(
            wire: Wire, requests: Sequence[Request], done: Done | None = None
        ) -> list[Result]:
            if threading.current_thread().name == "ldap-batch":
                self.batch += len(requests)
            else:
                self.others += len(requests)
            return original(wire, requests, done)

        monkeypatch.setattr(Wire, "exchange", counting)
