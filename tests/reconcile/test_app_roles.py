"""Roles read out of every shape Entra sends them in (tests/inbound/web/corpus/06_app_roles.json)."""

from __future__ import annotations

import json

from reconcile.app_roles import MAX_ENCODED_ROLE, AppRole, app_role, app_roles

AAD = "WindowsAzureActiveDirectoryRole"


def test_single_app_role_assignment() -> None:
    assert app_roles([{"primary": True, "type": AAD, "value": "Admin"}]) == (
        AppRole("Admin", None, primary=True),
    )


def test_complex_roles_name_themselves_with_display_or_display_name() -> None:
    sent = [
        {"primary": False, "type": AAD, "displayName": "Administrators", "value": "Admin"},
        {"primary": False, "type": AAD, "display": "Users", "value": "User"},
    ]
    assert app_roles(sent) == (AppRole("Admin", "Administrators"), AppRole("User", "Users"))


def test_a_json_encoded_value_gives_the_role_inside_it() -> None:
    encoded = json.dumps({"id": "06b07648", "value": "25", "displayName": "Role1234"})
    assert app_role({"value": encoded}) == AppRole("25", "Role1234")
    only_id = json.dumps({"id": "06b07648", "displayName": "Role1234"})
    assert app_role({"value": only_id}) == AppRole("06b07648", "Role1234")
    assert app_role({"value": json.dumps({"displayName": "no value"})}) is None


def test_values_that_only_look_encoded_are_kept_whole() -> None:
    assert app_role({"value": "{not json"}) == AppRole("{not json")
    assert app_role({"value": "[1, 2]"}) == AppRole("[1, 2]")
    huge = json.dumps({"value": "x" * MAX_ENCODED_ROLE})
    assert app_role({"value": huge}) == AppRole(huge)


def test_elements_without_a_value_name_no_role() -> None:
    assert app_roles([{"primary": True, "type": AAD}, {"value": ""}, 7, None]) == ()
    assert app_roles(None) == () and app_roles("Solo") == (AppRole("Solo"),)


def test_a_value_sent_twice_is_one_role_primary_if_either_was() -> None:
    sent = [{"value": "Admin"}, {"value": "Admin", "display": "A", "primary": "True"}]
    assert app_roles(sent) == (AppRole("Admin", "A", primary=True),)
