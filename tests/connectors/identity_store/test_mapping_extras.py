"""What a mapping adds to an Identity Manager record, and what it may not touch."""

from __future__ import annotations

import tomllib

from connectors.identity_store.mapping import check_identity_store_mapping, extra_attributes
from reconcile.mapping import compile_mapping
from tests.reconcile.mapping.support import group, user

MAPPING = """
[mapping.identity_store.user.attributes]
cost_center = "{{ user['urn:example:custom:2.0:User'].costCenter }}"
role_values = { each = "user.roles", value = "{{ item.value }}" }
phone = "{{ (user.phoneNumbers | selectattr('type', 'equalto', 'mobile') | first).value }}"

[mapping.identity_store.group.attributes]
kind = "{{ 'app' if group.displayName.startswith('App-') else 'team' }}"
"""


def test_extras_are_one_string_or_a_list_and_empty_ones_are_left_out() -> None:
    store = compile_mapping(tomllib.loads(MAPPING)["mapping"], "m.toml").target("identity_store")
    desired = user(
        roles=[{"value": "admin", "primary": True}, {"value": "ops"}],
        phoneNumbers=[{"type": "work", "value": "1"}, {"type": "mobile", "value": "2"}],
        **{"urn:example:custom:2.0:User": {"costCenter": "CC-7"}},
    )
    assert extra_attributes(store, desired) == {
        "cost_center": "CC-7",
        "role_values": ["admin", "ops"],
        "phone": "2",
    }
    assert extra_attributes(store, user()) == {}
    assert extra_attributes(store, group(displayName="App-CRM")) == {"kind": "app"}
    assert extra_attributes(None, desired) == {}


def test_columns_and_placement_are_refused() -> None:
    store = compile_mapping(
        tomllib.loads(
            """
[mapping.identity_store.user.attributes]
email = "x"
Active = "y"
nickname = "{{ user.nickName }}"
[[mapping.identity_store.group.placement]]
dn = "ou=x"
"""
        )["mapping"],
        "m.toml",
    ).target("identity_store")
    assert store is not None
    found = {(p.table, p.key) for p in check_identity_store_mapping(store, "m.toml")}
    assert found == {
        ("mapping.identity_store.user.attributes", "email"),
        ("mapping.identity_store.user.attributes", "Active"),
        ("mapping.identity_store.group.placement", ""),
    }
