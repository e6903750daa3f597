"""The whole path: SCIM requests staged by the app, the reconciler, a real slapd (and database).

Also the outage promise: with slapd stopped, Entra's requests still succeed, nothing is lost,
and everything lands once the directory is back.
"""

from __future__ import annotations

import ldap3

from scheduler.composition import Runtime
from tests.support import FakeClock, patch_body
from tests.support.directory import admin, compose_with_ldap, entries, group_entry, user_entry
from tests.support.scim_client import create_user as create
from tests.support.scim_client import new_group, scim_client
from tests.support.slapd import SlapdServer

RND = 'R&D, "Core" + Ops #1'


def ldap_actions(runtime: Runtime) -> dict[str, int]:
    report = runtime.reconciler.run_once()
    by_target = {t.target: t for t in report.targets}
    return by_target["ldap"].actions


def test_users_and_groups_from_scim_land_in_the_directory(
    ldap_runtime: Runtime, directory_admin: ldap3.Connection
) -> None:
    base = ldap_runtime.settings.ldap.base_dn
    with scim_client(ldap_runtime) as client:
        alice, bob = create(client, "alice"), create(client, "bob")
        group = new_group(client, RND)
        client.patch(
            f"/scim/v2/Groups/{group['id']}",
            json=patch_body(
                {
                    "op": "Add",
                    "path": "members",
                    "value": [{"value": alice["id"]}, {"value": bob["id"]}],
                }
            ),
        )
        assert ldap_actions(ldap_runtime) == {"created": 3}
        entry = user_entry(directory_admin, base, "alice")
        assert entry is not None and entry["mail"] == ["alice@example.com"]
        assert entry["departmentnumber"] == ["Research"] and entry["sn"] == ["Family"]
        held = group_entry(directory_admin, base, RND)
        assert held is not None and held["cn"] == [RND]
        people = {f"uid=alice,ou=people,{base}", f"uid=bob,ou=people,{base}"}
        assert set(held["member"]) == people
        sync = ldap_runtime.ledger.states_of(group["id"], ["ldap"])[0]
        assert sync.status == "applied" and sync.anchor == held["entryuuid"][0]

        # Entra's default remove style takes out only the listed member.
        client.patch(
            f"/scim/v2/Groups/{group['id']}",
            json=patch_body({"op": "Remove", "path": "members", "value": [{"value": bob["id"]}]}),
        )
        # Disable: the user moves to the disabled OU and stays a member there.
        client.patch(
            f"/scim/v2/Users/{alice['id']}",
            json=patch_body({"op": "Replace", "path": "active", "value": "False"}),
        )
        assert ldap_actions(ldap_runtime) == {"disabled": 1, "updated": 1}
        moved = f"uid=alice,ou=disabled,{base}"
        assert user_entry(directory_admin, base, "alice")["dn"] == moved  # type: ignore[index]
        assert group_entry(directory_admin, base, RND)["member"] == [moved]  # type: ignore[index]

        # Delete: the entry goes, and with it its membership (the placeholder keeps the group).
        assert client.delete(f"/scim/v2/Users/{alice['id']}").status_code == 204
        assert ldap_actions(ldap_runtime) == {"deleted": 1}
        assert user_entry(directory_admin, base, "alice") is None
        assert group_entry(directory_admin, base, RND)["member"] == [f"cn=nobody,{base}"]  # type: ignore[index]

        assert client.delete(f"/scim/v2/Groups/{group['id']}").status_code == 204
        assert ldap_actions(ldap_runtime) == {"deleted": 1}
        assert entries(directory_admin, base, "(objectClass=groupOfNames)") == []


def test_a_directory_outage_loses_nothing(
    database_url: str, clock: FakeClock, own_slapd: SlapdServer
) -> None:
    runtime = compose_with_ldap(database_url, clock, own_slapd.url)
    base = runtime.settings.ldap.base_dn
    try:
        with scim_client(runtime) as client:
            first = create(client, "before")
            assert ldap_actions(runtime) == {"created": 1}
            own_slapd.stop()
            # Entra keeps getting answers while the directory is gone.
            second = create(client, "during")
            group = new_group(client, "Outage")
            patched = client.patch(
                f"/scim/v2/Groups/{group['id']}",
                json=patch_body(
                    {
                        "op": "Add",
                        "path": "members",
                        "value": [{"value": first["id"]}, {"value": second["id"]}],
                    }
                ),
            )
            assert patched.status_code in (200, 204)
            report = {t.target: t for t in runtime.reconciler.run_once().targets}
            assert report["identity_store"].applied == 2
            assert (
                report["ldap"].unavailable
                and "no LDAP server answered" in report["ldap"].unavailable
            )
            summary = runtime.ledger.summary("ldap", clock())
            assert summary["pending"] + summary["retrying"] == 2 and summary["dead"] == 0

            own_slapd.start()
            clock.advance(3600)
            report = {t.target: t for t in runtime.reconciler.run_once().targets}
            assert report["ldap"].actions == {"created": 2}, report
            conn = admin(own_slapd.url)
            try:
                assert user_entry(conn, base, "during") is not None
                held = group_entry(conn, base, "Outage")
                assert held is not None and len(held["member"]) == 2
            finally:
                conn.unbind()
            summary = runtime.ledger.summary("ldap", clock())
            assert summary["applied"] == 3 and summary["pending"] == 0
    finally:
        runtime.dispose()
