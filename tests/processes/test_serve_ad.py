"""``scim-sync serve`` with SCIM_SYNC_LDAP_DIRECTORY=active_directory, driven over real HTTP as
Entra drives it, landing in the real Samba DC: create, update in both PATCH dialects, disable,
re-enable, group membership changes, rename, delete. Every wait is on a logged event."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import ldap3
import pytest

from connectors.ldap.active_directory import account_control
from tests.support import entra_group, entra_user, patch_body
from tests.support.ad_helpers import unique
from tests.support.processes import ServiceProcess, applied_on, free_port
from tests.support.samba_dc import SambaDc

pytestmark = pytest.mark.slow


def ad_env(tmp_path: Path, dc: SambaDc, base: str) -> dict[str, str]:
    return {
        "SCIM_SYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'scim-sync.db'}",
        "SCIM_SYNC_RECONCILE_INTERVAL": "1h",
        "SCIM_SYNC_LDAP_URL": dc.ldaps_url,
        "SCIM_SYNC_LDAP_BIND_DN": dc.admin,
        "SCIM_SYNC_LDAP_PASSWORD": dc.admin_password,
        "SCIM_SYNC_LDAP_BASE_DN": base,
        "SCIM_SYNC_LDAP_TLS_CA_FILE": str(dc.ca_file),
        "SCIM_SYNC_LDAP_DIRECTORY": "active_directory",
        "SCIM_SYNC_LDAP_DISABLE": "attribute",
    }


def next_one(service: ServiceProcess, scim_id: str, action: str) -> Callable[[], object]:
    """Wait (when called) for the next such event after those seen so far: called before the
    request that causes it, so an event that comes quickly is not missed."""
    wanted = applied_on("ldap", scim_id, action)
    skip = sum(1 for e in service.seen if wanted(e))
    count = [0]

    def match(event: dict[str, Any]) -> bool:
        if wanted(event):
            count[0] += 1
            return count[0] > skip
        return False

    return lambda: service.wait_for(match)


def account(conn: ldap3.Connection, base: str, uid: str) -> dict[str, Any] | None:
    _, _, response, _ = conn.search(
        base, f"(uid={uid})", ldap3.SUBTREE, attributes=["*", "userAccountControl"]
    )
    found = [e for e in response if e["type"] == "searchResEntry"]
    if not found:
        return None
    raw = found[0]["raw_attributes"]
    return {
        "dn": found[0]["dn"],
        **{k: [v.decode(errors="replace") for v in vs] for k, vs in raw.items()},
    }


def members(conn: ldap3.Connection, base: str, name: str) -> list[str]:
    _, _, response, _ = conn.search(base, f"(cn={name})", ldap3.SUBTREE, attributes=["member"])
    (entry,) = [e for e in response if e["type"] == "searchResEntry"]
    return [v.decode() for v in entry["raw_attributes"].get("member", [])]


def test_an_entra_cycle_lands_in_active_directory(
    tmp_path: Path, samba_dc: SambaDc, ad_ou: str, ad_admin: ldap3.Connection
) -> None:
    port = free_port()
    env = ad_env(tmp_path, samba_dc, ad_ou)
    service = ServiceProcess(["serve", "--port", str(port)], cwd=tmp_path, env=env)
    lines = service.read_stdout_until(lambda line: "Admin key" in line)
    token = next(line.strip() for line in lines if line.strip().startswith("sst_"))
    service.wait_listening()
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}/scim/v2",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    uid = unique("e2e")
    try:
        user = client.post("/Users", json=entra_user(uid, displayName="Ada Lovelace")).json()
        service.wait_for(applied_on("ldap", user["id"], "created"))
        held = account(ad_admin, ad_ou, uid)
        assert held is not None and held["dn"] == f"CN=Ada Lovelace,OU=people,{ad_ou}"
        assert held["sAMAccountName"] == [uid] and held["userPrincipalName"] == [
            f"{uid}@example.com"
        ]

        # Entra's two PATCH dialects: a path with a value, and a value object without a path
        done = next_one(service, user["id"], "updated")
        client.patch(
            f"/Users/{user['id']}",
            json=patch_body({"op": "Replace", "path": "title", "value": "Analyst"}),
        )
        done()
        done = next_one(service, user["id"], "updated")
        client.patch(
            f"/Users/{user['id']}",
            json=patch_body({"op": "replace", "value": {"name.givenName": "Augusta"}}),
        )
        done()
        held = account(ad_admin, ad_ou, uid)
        assert held is not None and held["title"] == ["Analyst"]

        done = next_one(service, user["id"], "disabled")
        client.patch(
            f"/Users/{user['id']}",
            json=patch_body({"op": "Replace", "path": "active", "value": "False"}),
        )
        done()
        held = account(ad_admin, ad_ou, uid)
        assert held is not None
        assert not account_control.is_enabled(account_control.parse(held["userAccountControl"][0]))
        done = next_one(service, user["id"], "updated")
        client.patch(
            f"/Users/{user['id']}",
            json=patch_body({"op": "Replace", "path": "active", "value": "True"}),
        )
        done()
        held = account(ad_admin, ad_ou, uid)
        assert held is not None
        assert account_control.is_enabled(account_control.parse(held["userAccountControl"][0]))

        name = f"Analysts {uid}"
        group = client.post("/Groups", json=entra_group(name)).json()
        service.wait_for(applied_on("ldap", group["id"], "created"))
        add = {"op": "Add", "path": "members", "value": [{"value": user["id"]}]}
        done = next_one(service, group["id"], "updated")
        client.patch(f"/Groups/{group['id']}", json=patch_body(add))
        done()
        assert members(ad_admin, ad_ou, name) == [held["dn"]]

        rename = {"op": "Replace", "path": "displayName", "value": "Ada King"}
        done = next_one(service, user["id"], "updated")
        client.patch(f"/Users/{user['id']}", json=patch_body(rename))
        done()
        renamed = f"CN=Ada King,OU=people,{ad_ou}"
        held = account(ad_admin, ad_ou, uid)
        assert held is not None and held["dn"] == renamed
        assert held["givenName"] == ["Augusta"]
        assert members(ad_admin, ad_ou, name) == [renamed]  # the membership followed

        remove = {"op": "Remove", "path": f'members[value eq "{user["id"]}"]'}
        done = next_one(service, group["id"], "updated")
        client.patch(f"/Groups/{group['id']}", json=patch_body(remove))
        done()
        assert members(ad_admin, ad_ou, name) == []

        assert client.delete(f"/Users/{user['id']}").status_code == 204
        service.wait_for(applied_on("ldap", user["id"], "deleted"))
        assert account(ad_admin, ad_ou, uid) is None
    finally:
        client.close()
        service.stop()
