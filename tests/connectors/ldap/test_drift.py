"""Full (drift) reconciliation over a real slapd: edits, deletes, extra members and orphans made
by hand in the directory are planned by ``--dry-run`` and repaired by ``--full``."""

from __future__ import annotations

import ldap3
from sqlalchemy import update

from inbound.database.tables import sync_state
from scheduler.composition import Runtime
from tests.support import patch_body
from tests.support.directory import group_entry, user_entry
from tests.support.scim_client import create_user as create
from tests.support.scim_client import new_group, scim_client


def ldap_plan(runtime: Runtime, *, full: bool = True) -> list[tuple[str, str]]:
    reports = (
        runtime.full.run(dry_run=True, only=["ldap"]) if full else runtime.full.preview(["ldap"])
    )
    return sorted((c.action, c.name) for r in reports for c in r.changes)


def test_hand_made_drift_is_planned_then_repaired(
    ldap_runtime: Runtime, directory_admin: ldap3.Connection
) -> None:
    base = ldap_runtime.settings.ldap.base_dn
    with scim_client(ldap_runtime) as client:
        ann, ben = create(client, "ann"), create(client, "ben")
        create(client, "cat")
        group = new_group(client, "Pilots")
        client.patch(
            f"/scim/v2/Groups/{group['id']}",
            json=patch_body({"op": "add", "path": "members", "value": [{"value": ann["id"]}]}),
        )
        ldap_runtime.reconciler.run_once()
        assert ldap_plan(ldap_runtime) == []  # freshly applied: no drift

        people = f"ou=people,{base}"
        directory_admin.modify(f"uid=ann,{people}", {"title": [(ldap3.MODIFY_REPLACE, ["Pirate"])]})
        directory_admin.delete(f"uid=cat,{people}")
        directory_admin.modify(
            f"cn=Pilots,ou=groups,{base}",
            {"member": [(ldap3.MODIFY_ADD, [f"uid=ben,{people}"])]},
        )
        directory_admin.add(
            f"uid=stray,{people}",
            ["inetOrgPerson", "organizationalPerson", "person", "top"],
            {"uid": "stray", "sn": "stray", "cn": "stray"},
        )
        planned = ldap_plan(ldap_runtime)
        assert planned == [
            ("create", "cat"),
            ("delete", "stray"),
            ("member remove", "Pilots"),
            ("update", "ann"),
        ]
        assert ldap_plan(ldap_runtime) == planned  # a dry run changes nothing

        ldap_runtime.full.run(only=["ldap"])
        ldap_runtime.reconciler.run_once()
        assert ldap_plan(ldap_runtime) == []
        assert user_entry(directory_admin, base, "ann")["title"] == ["Engineer"]  # type: ignore[index]
        assert user_entry(directory_admin, base, "cat") is not None
        assert user_entry(directory_admin, base, "stray") is None
        pilots = group_entry(directory_admin, base, "Pilots")
        assert pilots is not None and pilots["member"] == [f"uid=ann,{people}"]
        assert ben["id"]


def test_preview_reads_the_directory(ldap_runtime: Runtime) -> None:
    with scim_client(ldap_runtime) as client:
        user = create(client, "dora")
        ldap_runtime.reconciler.run_once()
        client.patch(
            f"/scim/v2/Users/{user['id']}",
            json=patch_body({"op": "Replace", "path": "active", "value": "False"}),
        )
        create(client, "eve")
    assert ldap_plan(ldap_runtime, full=False) == [("create", "eve"), ("disable", "dora")]


def test_an_entry_a_live_user_holds_is_never_removed_as_an_orphan(
    ldap_runtime: Runtime, directory_admin: ldap3.Connection
) -> None:
    """A past takeover left a deleted user holding alice's anchor too: neither the full
    reconcile's orphan removal nor that user's delete may remove alice's entry."""
    base = ldap_runtime.settings.ldap.base_dn
    with scim_client(ldap_runtime) as client:
        alice, ghost = create(client, "alice"), create(client, "ghost")
        ldap_runtime.reconciler.run_once()
        assert client.delete(f"/scim/v2/Users/{ghost['id']}").status_code == 204
    anchor = ldap_runtime.ledger.states_of(alice["id"], ["ldap"])[0]
    entry = user_entry(directory_admin, base, "alice")
    assert entry is not None
    with ldap_runtime.database_engine.begin() as conn:
        conn.execute(
            update(sync_state)
            .where(sync_state.c.target == "ldap", sync_state.c.scim_id == ghost["id"])
            .values(anchor=entry["entryuuid"][0])
        )
    report = ldap_runtime.full.run(only=["ldap"], allow_mass_delete=True)[0]
    assert report.orphans_removed == 1  # ghost's own entry, which nobody holds now
    assert user_entry(directory_admin, base, "ghost") is None
    assert user_entry(directory_admin, base, "alice") == entry

    ldap_runtime.reconciler.run_once()  # the ghost's delete, holding alice's anchor
    assert user_entry(directory_admin, base, "alice") == entry
    state = ldap_runtime.ledger.states_of(ghost["id"], ["ldap"])[0]
    assert state.status == "dead" and f"user 'alice' (id {alice['id']})" in (state.last_error or "")
    assert anchor.status == "applied"


PEOPLE_CLASSES = ["inetOrgPerson", "organizationalPerson", "person", "top"]
DOTTED = "\u0130rem"  # İrem: its staging key keeps the dot, the directory folds it to 'irem'


def hand_made(directory_admin: ldap3.Connection, base: str, user_id: str) -> None:
    """A user entry made by hand (before scim-sync ever ran: its containers too)."""
    directory_admin.add(f"ou=people,{base}", ["organizationalUnit"], {"ou": "people"})
    _, result, _, _ = directory_admin.add(
        f"uid={user_id},ou=people,{base}",
        PEOPLE_CLASSES,
        {"uid": user_id, "sn": user_id, "cn": user_id},
    )
    assert result["result"] == 0, result


def test_an_entry_without_anchor_is_matched_by_the_directorys_folding(
    ldap_runtime: Runtime, directory_admin: ldap3.Connection
) -> None:
    """Staging keeps 'İrem' apart from 'irem'; the directory does not, so the entry 'irem'
    is İrem's (as her apply would find it), not an orphan to remove."""
    base = ldap_runtime.settings.ldap.base_dn
    with scim_client(ldap_runtime) as client:
        create(client, DOTTED)
    hand_made(directory_admin, base, "irem")
    assert ("delete", "irem") not in ldap_plan(ldap_runtime)
    report = ldap_runtime.full.run(only=["ldap"], allow_mass_delete=True)[0]
    assert (report.orphans, report.orphans_removed, report.drifted) == (0, 0, 1), report
    assert user_entry(directory_admin, base, "irem") is not None


def test_an_entry_two_staged_names_claim_is_a_clash_adopted_by_neither(
    ldap_runtime: Runtime, directory_admin: ldap3.Connection
) -> None:
    base = ldap_runtime.settings.ldap.base_dn
    with scim_client(ldap_runtime) as client:
        plain, dotted = create(client, "irem"), create(client, DOTTED)
    hand_made(directory_admin, base, "irem")
    (report,) = ldap_runtime.full.run(dry_run=True, only=["ldap"])
    (clash,) = report.changes
    assert (clash.action, clash.name, report.clashes) == ("clash", "irem", 1)
    assert f"user 'irem' (id {plain['id']})" in (clash.detail or "")
    assert f"user '{DOTTED}' (id {dotted['id']})" in (clash.detail or "")

    report = ldap_runtime.full.run(only=["ldap"], allow_mass_delete=True)[0]
    assert (report.clashes, report.orphans, report.drifted, report.missing) == (1, 0, 0, 0)
    entry = user_entry(directory_admin, base, "irem")
    assert entry is not None
    for user in (plain, dotted):
        (state,) = ldap_runtime.ledger.states_of(user["id"], ["ldap"])
        assert state.anchor is None


def test_the_plan_shows_a_clash_where_the_apply_would_refuse_a_takeover(
    ldap_runtime: Runtime, directory_admin: ldap3.Connection
) -> None:
    with scim_client(ldap_runtime) as client:
        plain = create(client, "irem")
        ldap_runtime.reconciler.run_once()
        dotted = create(client, DOTTED)
    (report,) = ldap_runtime.full.preview(["ldap"])
    (change,) = report.changes
    assert (change.action, change.name, change.scim_id) == ("clash", DOTTED, dotted["id"])
    assert f"collides in LDAP with user 'irem' (id {plain['id']})" in (change.detail or "")
    ldap_runtime.reconciler.run_once()
    (state,) = ldap_runtime.ledger.states_of(dotted["id"], ["ldap"])
    assert state.status == "dead" and (change.detail or "") in (state.last_error or "")
