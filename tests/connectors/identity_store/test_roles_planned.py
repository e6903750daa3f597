"""A user's roles and the mapping's extra attributes, planned and applied by the store's one
planner: a dry run lists them before the run writes them, ``identities get --json`` shows
them, a change to them is one update, and the full reconcile reads them a page at a time."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner
from sqlalchemy import delete, event, select

from connectors.identity_store.tables import groups, identity_roles
from reconcile.changes import ChangeAction
from scheduler.cli import main
from tests.support import FakeClock, patch_body
from tests.support.mapped import dry_run_full, mapped, run_recorded, shown
from tests.support.scim_client import create_group, scim_client
from tests.support.scim_client import create_user as create

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
MAPPING = """
[mapping.identity_store.user.attributes]
cost_center = "{{ enterprise.costCenter }}"
role_values = { each = "roles", value = "{{ item.value }}{% if item.primary %} (primary){% endif %}" }
primary_role = "{% for r in roles if r.primary %}{{ r.value }}{% endfor %}"

[mapping.identity_store.group.attributes]
kind = "{{ 'app' if group.displayName.startswith('App-') else 'team' }}"
"""
ENCODED = json.dumps({"id": "9f1", "value": "25", "displayName": "Role1234"})
ROLES = [
    {"value": "Admin", "display": "Administrator", "primary": "True"},  # a string primary
    {"value": "Reader", "displayName": "Reader role"},  # AppRoleAssignmentsComplex's name
    {"value": ENCODED},  # a JSON-encoded role, as PATCH sends them
]


def test_roles_and_extras_are_planned_applied_and_shown(
    database_url: str, clock: FakeClock
) -> None:
    with mapped(database_url, clock, MAPPING) as runtime, scim_client(runtime) as client:
        alice = create(client, "alice", roles=ROLES, **{ENTERPRISE: {"costCenter": "4130"}})
        (preview,) = runtime.full.preview(["identity_store"])
        (planned,) = preview.changes
        assert planned.action is ChangeAction.CREATE
        assert planned.diff["roles"] == (
            (),
            (
                {"value": "25", "display": "Role1234", "primary": False},
                {"value": "Admin", "display": "Administrator", "primary": True},
                {"value": "Reader", "display": "Reader role", "primary": False},
            ),
        )
        assert planned.diff["extra"] == (
            None,
            {
                "cost_center": "4130",
                "role_values": ["Admin (primary)", "Reader", "25"],
                "primary_role": "Admin",
            },
        )
        _, done = run_recorded(runtime)
        assert shown(done) == shown(preview.changes)

        env = {"SCIM_SYNC_DATABASE_URL": database_url}
        got = CliRunner().invoke(main, ["identities", "get", "alice", "--json"], env=env)
        assert got.exit_code == 0, got.output
        record = json.loads(got.output)
        assert record["roles"] == [
            {"value": "Admin", "display": "Administrator", "primary": True},
            {"value": "25", "display": "Role1234", "primary": False},
            {"value": "Reader", "display": "Reader role", "primary": False},
        ]
        assert record["extra"] == {
            "cost_center": "4130",
            "role_values": ["Admin (primary)", "Reader", "25"],
            "primary_role": "Admin",
        }
        assert dry_run_full(runtime) == []

        # Entra takes a role away: one update, listed before the run as the run writes it.
        keep = {"op": "Replace", "path": "roles", "value": ROLES[:1]}
        answer = client.patch(f"/scim/v2/Users/{alice['id']}", json=patch_body(keep))
        assert answer.status_code == 200, answer.text
        (preview,) = runtime.full.preview(["identity_store"])
        (update,) = preview.changes
        assert update.action is ChangeAction.UPDATE
        assert set(update.diff) == {"roles", "extra"}
        assert update.diff["roles"][1] == (
            {"value": "Admin", "display": "Administrator", "primary": True},
        )
        _, done = run_recorded(runtime)
        assert shown(done) == shown(preview.changes)
        assert dry_run_full(runtime) == []

        # Removed behind scim-sync's back: the full reconcile finds it and puts it back.
        with runtime.idm_engine.begin() as conn:
            conn.execute(delete(identity_roles))
        (drift,) = dry_run_full(runtime)
        assert drift.diff == {"roles": ((), update.diff["roles"][1])}
        runtime.full.run()
        _, done = run_recorded(runtime)
        assert shown(done) == shown([drift])
        record = runtime.identity_record("alice")
        assert record is not None and [r["value"] for r in record["roles"]] == ["Admin"]


def test_the_full_reconcile_reads_roles_a_page_at_a_time(
    database_url: str, clock: FakeClock
) -> None:
    """However many users, comparing the store whole reads the roles table once per page of
    records (1,000), not once per user."""
    with mapped(database_url, clock, MAPPING) as runtime, scim_client(runtime) as client:
        for n in range(40):
            create(client, f"user{n:02}", roles=[{"value": f"role{n % 3}"}])
        runtime.reconciler.run_once()
        statements: list[str] = []

        def seen(*args: Any) -> None:
            statements.append(str(args[2]))

        event.listen(runtime.idm_engine, "before_cursor_execute", seen)
        try:
            assert dry_run_full(runtime) == []
        finally:
            event.remove(runtime.idm_engine, "before_cursor_execute", seen)
        reads = [s for s in statements if "FROM idm_identity_roles" in s]
        assert len(reads) == 1, reads


def test_a_group_mapping_gives_group_records_extra_attributes(
    database_url: str, clock: FakeClock
) -> None:
    with mapped(database_url, clock, MAPPING) as runtime, scim_client(runtime) as client:
        crm = create_group(client, "App-CRM")
        (preview,) = runtime.full.preview(["identity_store"])
        (planned,) = preview.changes
        assert planned.diff["extra"] == (None, {"kind": "app"})
        runtime.reconciler.run_once()
        rename = {"op": "Replace", "path": "displayName", "value": "Sales team"}
        answer = client.patch(f"/scim/v2/Groups/{crm['id']}", json=patch_body(rename))
        assert answer.status_code in (200, 204)
        (preview,) = runtime.full.preview(["identity_store"])
        (renamed,) = preview.changes
        assert renamed.diff["extra"] == ({"kind": "app"}, {"kind": "team"})
        runtime.reconciler.run_once()
        with runtime.idm_engine.connect() as conn:
            stored = conn.execute(select(groups.c.extra).where(groups.c.scim_id == crm["id"]))
            assert stored.scalar() == {"kind": "team"}
        assert dry_run_full(runtime) == []
