"""The declarative mapping wired through the LDAP target end to end, on real slapd and both
databases: groups placed and given their mapped attributes, placement containers created by
the target, a mapping change listed by the full dry run exactly as the full reconcile then
applies it, and a template failing for one resource shown as a refusal and dead-lettered."""

from __future__ import annotations

from typing import Any

import ldap3
from litestar.testing import TestClient

from reconcile.changes import ChangeAction
from scheduler.composition import Runtime
from tests.support import FakeClock, patch_body
from tests.support.directory import fresh_base, group_entry, settings_for, user_entry
from tests.support.mapped import dry_run_full, mapped, run_recorded, shown
from tests.support.scim_client import create_group, scim_client
from tests.support.scim_client import create_user as create
from tests.support.slapd import SlapdServer

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

FIRST = """
[mapping.ldap.user.attributes]
description = "{{ user.title }} in {{ enterprise.department }}"
businessCategory = { each = "roles", value = "app-role:{{ item.value }}" }

[[mapping.ldap.user.placement]]
when = "enterprise.department == 'Sales'"
dn = "ou=emea,ou=sales,ou=people,BASE"

[mapping.ldap.group.attributes]
description = "Entra group {{ group.displayName }}"

[[mapping.ldap.group.placement]]
when = "group.displayName.startswith('App-')"
dn = "ou=apps,ou=groups,BASE"

[mapping.identity_store.user.attributes]
cost_center = "{{ enterprise.costCenter }}"
"""

SECOND = """
[mapping.ldap.user.attributes]
description = "{{ user.title }} in {{ enterprise.department }}"

[[mapping.ldap.user.placement]]
when = "enterprise.department == 'Research'"
dn = "ou=lab,ou=people,BASE"

[mapping.ldap.group.attributes]
description = "Entra group {{ group.displayName }}"

[[mapping.ldap.group.placement]]
when = "group.displayName == 'Team'"
dn = "ou=teams,ou=groups,BASE"

[mapping.identity_store.user.attributes]
cost_center = "{{ enterprise.costCenter }}"
division = "{{ enterprise.division }}"
"""

FAILING = """
[mapping.ldap.user.attributes]
carLicense = "{{ user.nickName.upper() }}"

[mapping.ldap.group.attributes]
description = "{{ group.displayName + 1 }}"

[mapping.identity_store.user.attributes]
nick = "{{ user.nickName.upper() }}"
"""


def group_of(client: TestClient[Any], name: str, *members: dict[str, Any]) -> dict[str, Any]:
    group = create_group(client, name)
    add = {"op": "Add", "path": "members", "value": [{"value": m["id"]} for m in members]}
    answer = client.patch(f"/scim/v2/Groups/{group['id']}", json=patch_body(add))
    assert answer.status_code in (200, 204), answer.text
    return group


def staff(client: TestClient[Any]) -> dict[str, dict[str, Any]]:
    """Three users in three departments, and three groups (one per placement outcome)."""
    users = {
        "seller": create(
            client,
            "seller",
            roles=[{"value": "crm-admin", "primary": "True"}, {"value": '{"value": "crm-user"}'}],
            **{ENTERPRISE: {"department": "Sales"}},
        ),
        "researcher": create(
            client,
            "researcher",
            **{ENTERPRISE: {"department": "Research", "costCenter": "R1", "division": "Labs"}},
        ),
        "helper": create(client, "helper", **{ENTERPRISE: {"department": "Support"}}),
    }
    users["App-CRM"] = group_of(client, "App-CRM", users["seller"])
    users["Team"] = group_of(client, "Team", users["researcher"])
    users["Other"] = group_of(client, "Other", users["helper"])
    return users


def settled(runtime: Runtime) -> None:
    report = runtime.reconciler.run_once()
    assert all(t.dead == 0 and t.retrying == 0 for t in report.targets), report
    assert dry_run_full(runtime) == []


def test_groups_are_placed_and_mapped_and_containers_are_created(
    database_url: str, clock: FakeClock, slapd: SlapdServer, directory_admin: ldap3.Connection
) -> None:
    """No container but the base DN exists: the target creates the users, groups and
    disabled OUs and every placement container, parents first (``ou=sales`` before
    ``ou=emea,ou=sales``)."""
    ldap = settings_for(slapd.url, fresh_base(slapd.url))
    base = ldap.base_dn
    with mapped(database_url, clock, FIRST, ldap) as runtime, scim_client(runtime) as client:
        made = staff(client)
        settled(runtime)
        seller = user_entry(directory_admin, base, "seller")
        assert seller is not None
        assert seller["dn"] == f"uid=seller,ou=emea,ou=sales,ou=people,{base}"
        assert seller["description"] == ["Engineer in Sales"]
        assert sorted(seller["businesscategory"]) == ["app-role:crm-admin", "app-role:crm-user"]
        crm = group_entry(directory_admin, base, "App-CRM")
        assert crm is not None and crm["dn"] == f"cn=App-CRM,ou=apps,ou=groups,{base}"
        assert crm["description"] == ["Entra group App-CRM"]
        assert crm["member"] == [seller["dn"]]
        team = group_entry(directory_admin, base, "Team")
        assert team is not None and team["dn"] == f"cn=Team,ou=groups,{base}"
        assert team["description"] == ["Entra group Team"]

        # A mapped group attribute edited by hand is drift: listed, then repaired.
        directory_admin.modify(team["dn"], {"description": [(ldap3.MODIFY_REPLACE, ["mine"])]})
        (drift,) = dry_run_full(runtime)
        assert (drift.action, drift.name) == (ChangeAction.UPDATE, "Team")
        assert drift.diff == {"description": (("mine",), ("Entra group Team",))}
        runtime.full.run()
        settled(runtime)
        team = group_entry(directory_admin, base, "Team")
        assert team is not None and team["description"] == ["Entra group Team"]

        # Renamed out of its rule: the group moves to the groups DN, members and all.
        rename = {"op": "Replace", "path": "displayName", "value": "CRM"}
        answer = client.patch(f"/scim/v2/Groups/{made['App-CRM']['id']}", json=patch_body(rename))
        assert answer.status_code in (200, 204)
        _, done = run_recorded(runtime)
        move, described = (c for c in done if c.target == "ldap")
        assert (move.action, move.moved_to) == (ChangeAction.MOVE, f"cn=CRM,ou=groups,{base}")
        assert described.diff == {"description": (("Entra group App-CRM",), ("Entra group CRM",))}
        crm = group_entry(directory_admin, base, "CRM")
        assert crm is not None and crm["dn"] == f"cn=CRM,ou=groups,{base}"
        assert crm["description"] == ["Entra group CRM"] and crm["member"] == [seller["dn"]]
        assert dry_run_full(runtime) == []


def test_a_mapping_change_is_listed_by_the_dry_run_as_the_full_reconcile_applies_it(
    database_url: str, clock: FakeClock, slapd: SlapdServer, directory_admin: ldap3.Connection
) -> None:
    """Between two runs the placement rules and the store's extras change: the full dry run
    lists exactly the entries whose place or attributes change (a move is found by comparing
    DNs alone), and the full reconcile then carries out that very list."""
    ldap = settings_for(slapd.url, fresh_base(slapd.url))
    base = ldap.base_dn
    with mapped(database_url, clock, FIRST, ldap) as runtime, scim_client(runtime) as client:
        staff(client)
        settled(runtime)
    with mapped(database_url, clock, SECOND, ldap) as runtime:
        listed = dry_run_full(runtime)
        assert sorted((c.target, c.action.value, c.name) for c in listed) == [
            ("identity_store", "update", "researcher"),
            ("ldap", "move", "App-CRM"),
            ("ldap", "move", "Team"),
            ("ldap", "move", "researcher"),
            ("ldap", "move", "seller"),
        ]
        extra = next(c for c in listed if c.target == "identity_store").diff
        assert extra == {
            "extra": ({"cost_center": "R1"}, {"cost_center": "R1", "division": "Labs"})
        }
        assert runtime.full.run()
        report, done = run_recorded(runtime)
        assert shown(done) == shown(listed)
        assert all(t.dead == 0 for t in report.targets)
        assert dry_run_full(runtime) == []

        researcher = user_entry(directory_admin, base, "researcher")
        assert researcher is not None
        assert researcher["dn"] == f"uid=researcher,ou=lab,ou=people,{base}"
        seller = user_entry(directory_admin, base, "seller")
        assert seller is not None and seller["dn"] == f"uid=seller,ou=people,{base}"
        team = group_entry(directory_admin, base, "Team")
        assert team is not None and team["dn"] == f"cn=Team,ou=teams,ou=groups,{base}"
        assert team["member"] == [researcher["dn"]]  # the membership followed the move
        crm = group_entry(directory_admin, base, "App-CRM")
        assert crm is not None and crm["member"] == [seller["dn"]]
        record = runtime.identity_record("researcher")
        assert record is not None
        assert record["extra"] == {"cost_center": "R1", "division": "Labs"}


def test_a_template_failing_for_one_resource_is_a_refusal_then_a_dead_letter(
    database_url: str, clock: FakeClock, slapd: SlapdServer
) -> None:
    """A mapping whose templates fail for some resources: the full dry run shows a refusal
    line naming the template's key (no crash), and the run dead-letters exactly those."""
    ldap = settings_for(slapd.url, fresh_base(slapd.url))
    with mapped(database_url, clock, FIRST, ldap) as runtime, scim_client(runtime) as client:
        create(client, "nicked", nickName="nick")
        create(client, "plain")
        group_of(client, "Team")
        settled(runtime)
    with mapped(database_url, clock, FAILING, ldap) as runtime:
        listed = dry_run_full(runtime)
        refused = sorted((c.target, c.name, c.detail or "") for c in listed if c.refusal)
        assert [(t, n) for t, n, _ in refused] == [
            ("identity_store", "plain"),
            ("ldap", "Team"),
            ("ldap", "plain"),
        ]
        assert all(c.action is ChangeAction.REFUSE for c in listed if c.refusal)
        assert refused[0][2].startswith(
            "mapping identity_store.user 'nick' failed for user 'plain'"
        )
        assert refused[1][2].startswith("mapping ldap.group 'description' failed for group 'Team'")
        assert refused[2][2].startswith("mapping ldap.user 'carLicense' failed for user 'plain'")
        assert "'nickName' is undefined" in refused[2][2]
        assert sorted((c.target, c.name) for c in listed if not c.refusal) == [
            ("identity_store", "nicked"),
            ("ldap", "nicked"),
        ]
        lines = [c.describe() for c in listed if c.refusal]
        assert any(
            line.startswith("refuse User plain: mapping ldap.user 'carLicense'") for line in lines
        )

        runtime.full.run()
        report = runtime.reconciler.run_once()
        assert {t.target: t.dead for t in report.targets} == {"identity_store": 1, "ldap": 2}
        # the ledger lists dead letters by their folded name key
        dead = {
            t: sorted(d["name"].casefold() for d in runtime.ledger.dead_letters(t))
            for t in ("ldap", "identity_store")
        }
        assert dead == {"ldap": ["plain", "team"], "identity_store": ["plain"]}

        # The plain dry run of pending work says the same of a new user, before any run.
        with scim_client(runtime) as client:
            create(client, "newcomer")
        pending = [c for report in runtime.full.preview() for c in report.changes]
        assert sorted((c.target, c.action.value) for c in pending if c.name == "newcomer") == [
            ("identity_store", "refuse"),
            ("ldap", "refuse"),
        ]
