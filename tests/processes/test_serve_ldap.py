"""The issue's acceptance, tried as a new user would: ``scim-sync serve`` with SCIM_SYNC_LDAP_*.

Real processes over real HTTP, a real slapd; every wait is on a logged event, never a sleep.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import entra_group, entra_user, patch_body
from tests.support.directory import admin, fresh_base, group_entry, user_entry
from tests.support.processes import ServiceProcess, applied_on, free_port
from tests.support.slapd import ROOT_DN, ROOT_PW, SlapdServer

pytestmark = pytest.mark.slow
RND = 'R&D, "Core" + Ops #1'


def ldap_env(tmp_path: Path, url: str, base: str, interval: str) -> dict[str, str]:
    return {
        "SCIM_SYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'scim-sync.db'}",
        "SCIM_SYNC_RECONCILE_INTERVAL": interval,
        "SCIM_SYNC_LDAP_URL": url,
        "SCIM_SYNC_LDAP_BIND_DN": ROOT_DN,
        "SCIM_SYNC_LDAP_PASSWORD": ROOT_PW,
        "SCIM_SYNC_LDAP_BASE_DN": base,
    }


def serve(tmp_path: Path, env: dict[str, str]) -> tuple[ServiceProcess, httpx.Client]:
    port = free_port()
    service = ServiceProcess(["serve", "--port", str(port)], cwd=tmp_path, env=env)
    lines = service.read_stdout_until(lambda line: "Admin key" in line)
    token = next(line.strip() for line in lines if line.strip().startswith("sst_"))
    service.wait_listening()
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}/scim/v2",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    return service, client


@pytest.fixture
def running(
    tmp_path: Path, slapd: SlapdServer
) -> Iterator[tuple[ServiceProcess, httpx.Client, str]]:
    base = fresh_base(slapd.url)
    service, client = serve(tmp_path, ldap_env(tmp_path, slapd.url, base, "1h"))
    try:
        yield service, client, base
    finally:
        client.close()
        service.stop()


def test_scim_changes_reach_the_directory_within_seconds(
    running: tuple[ServiceProcess, httpx.Client, str], slapd: SlapdServer
) -> None:
    service, client, base = running
    user = client.post("/Users", json=entra_user("E2001")).json()
    group = client.post("/Groups", json=entra_group(RND)).json()
    patched = client.patch(
        f"/Groups/{group['id']}",
        json=patch_body({"op": "Add", "path": "members", "value": [{"value": user["id"]}]}),
    )
    assert patched.status_code in (200, 204)
    # The nudge after each write runs the reconciler; the interval (1h) never fires here.
    service.wait_for(applied_on("ldap", user["id"], "created"))
    service.wait_for(lambda e: e.get("target") == "ldap" and e.get("scim_id") == group["id"])
    conn = admin(slapd.url)
    try:
        entry = user_entry(conn, base, "E2001")
        assert entry is not None and entry["mail"] == ["e2001@example.com"]
        held = group_entry(conn, base, RND)
        assert held is not None and held["cn"] == [RND]
        if held["member"] != [entry["dn"]]:  # created empty first, the member came next run
            service.wait_for(applied_on("ldap", group["id"], "updated"))
            held = group_entry(conn, base, RND)
        assert held is not None and held["member"] == [entry["dn"]]

        client.patch(
            f"/Users/{user['id']}",
            json=patch_body({"op": "Replace", "path": "active", "value": "False"}),
        )
        service.wait_for(applied_on("ldap", user["id"], "disabled"))
        moved = user_entry(conn, base, "E2001")
        assert moved is not None and moved["dn"] == f"uid=E2001,ou=disabled,{base}"

        assert client.delete(f"/Users/{user['id']}").status_code == 204
        service.wait_for(applied_on("ldap", user["id"], "deleted"))
        assert user_entry(conn, base, "E2001") is None
        assert group_entry(conn, base, RND)["member"] == [f"cn=nobody,{base}"]  # type: ignore[index]
    finally:
        conn.unbind()


def test_changes_made_while_slapd_is_down_land_when_it_is_back(
    tmp_path: Path, own_slapd: SlapdServer
) -> None:
    base = fresh_base(own_slapd.url)
    service, client = serve(tmp_path, ldap_env(tmp_path, own_slapd.url, base, "1s"))
    try:
        own_slapd.stop()
        created = client.post("/Users", json=entra_user("E2002"))
        assert created.status_code == 201  # Entra never sees the outage
        service.wait_for(
            lambda e: e.get("event") == "target unavailable" and e.get("target") == "ldap"
        )
        own_slapd.start()
        service.wait_for(applied_on("ldap", created.json()["id"], "created"), timeout=30)
        conn = admin(own_slapd.url)
        try:
            assert user_entry(conn, base, "E2002") is not None
        finally:
            conn.unbind()
    finally:
        client.close()
        service.stop()
