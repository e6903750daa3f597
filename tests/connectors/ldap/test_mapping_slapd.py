"""A declarative mapping lands in a real slapd through the target's own path: placement by
department (and a move when the department changes), a computed attribute, a value map, and a
template failing for one user dead-letters that user alone.

"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import replace

import ldap3
import pytest

from reconcile.mapping import compile_mapping
from scheduler.composition import Runtime, compose
from scheduler.settings import Settings
from tests.support import FakeClock, patch_body
from tests.support.directory import admin, fresh_base, settings_for, user_entry
from tests.support.scim_client import create_user as create
from tests.support.scim_client import scim_client
from tests.support.slapd import SlapdServer

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

MAPPING = """
[mapping.value_maps.employee_types]
default = "staff"
values = { Contractor = "contractor" }

[mapping.ldap.user.attributes]
description = "{{ user.title }} in {{ enterprise.department }}"
employeeType = "{{ user.userType | value_map('employee_types') }}"
businessCategory = { each = "user.roles", value = "{{ item.value }}" }
carLicense = "{{ user.nickName.upper() }}"

[[mapping.ldap.user.placement]]
when = "enterprise.department == 'Sales'"
dn = "ou=sales,ou=people,BASE"
"""


@pytest.fixture
def mapped_runtime(database_url: str, clock: FakeClock, slapd: SlapdServer) -> Iterator[Runtime]:
    base = fresh_base(slapd.url)
    compiled = compile_mapping(tomllib.loads(MAPPING.replace("BASE", base))["mapping"], "m.toml")
    ldap = replace(settings_for(slapd.url, base), mapping=compiled.target("ldap"))
    runtime = compose(
        Settings(database_url=database_url, ldap=ldap, mapping=compiled),
        public_url="http://scim.test",
        clock=clock,
    )
    conn = admin(slapd.url)
    try:  # placement containers are the operator's to create, like any OU below the users DN
        for ou in ("people", "sales,ou=people"):
            conn.add(f"ou={ou},{base}", ["organizationalUnit"], {"ou": ou.split(",")[0]})
    finally:
        conn.unbind()
    try:
        yield runtime
    finally:
        runtime.dispose()


def test_placement_and_computed_attributes_land_and_a_failing_template_dead_letters_one(
    mapped_runtime: Runtime, directory_admin: ldap3.Connection
) -> None:
    runtime = mapped_runtime
    base = runtime.settings.ldap.base_dn
    with scim_client(runtime) as client:
        seller = create(
            client,
            "seller",
            userType="Contractor",
            nickName="sal",
            roles=[{"value": "crm-admin", "primary": True}, {"value": "crm-user"}],
            **{ENTERPRISE: {"department": "Sales"}},
        )
        create(client, "researcher", nickName="res")
        create(client, "nonick")  # no nickName: calling .upper() on it fails, for it alone
        report = runtime.reconciler.run_once()
        ldap = {t.target: t for t in report.targets}["ldap"]
        assert ldap.actions == {"created": 2} and ldap.dead == 1

        entry = user_entry(directory_admin, base, "seller")
        assert entry is not None
        assert entry["dn"] == f"uid=seller,ou=sales,ou=people,{base}"
        assert entry["description"] == ["Engineer in Sales"]
        assert entry["employeetype"] == ["contractor"]
        assert sorted(entry["businesscategory"]) == ["crm-admin", "crm-user"]
        assert entry["carlicense"] == ["SAL"]

        other = user_entry(directory_admin, base, "researcher")
        assert other is not None and other["dn"] == f"uid=researcher,ou=people,{base}"
        assert other["employeetype"] == ["staff"] and "businesscategory" not in other
        assert other["description"] == ["Engineer in Research"]

        (dead,) = runtime.ledger.dead_letters("ldap")
        assert dead["name"] == "nonick"
        assert dead["reason"].startswith("mapping ldap.user 'carLicense' failed for user 'nonick'")
        assert "'nickName' is undefined" in dead["reason"]
        assert user_entry(directory_admin, base, "nonick") is None

        # The department changes: the next run moves the entry and rewrites what follows.
        moved = patch_body(
            {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "Research"}
        )
        assert client.patch(f"/scim/v2/Users/{seller['id']}", json=moved).status_code == 200
        runtime.reconciler.run_once()
        entry = user_entry(directory_admin, base, "seller")
        assert entry is not None and entry["dn"] == f"uid=seller,ou=people,{base}"
        assert entry["description"] == ["Engineer in Research"]
