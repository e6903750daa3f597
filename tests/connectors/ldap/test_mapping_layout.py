"""The LDAP layout with a declarative mapping: defaults unchanged without one, mapped keys
added or taking over, placement, and the check against layout and schema."""

from __future__ import annotations

import tomllib
from dataclasses import replace

import pytest

from connectors.ldap.mapping import Layout
from connectors.ldap.mapping_check import check_ldap_mapping
from connectors.ldap.schema import STATIC_SCHEMA, parse_schema
from connectors.ldap.settings import LdapSettings
from reconcile.mapping import compile_mapping
from reconcile.model import DesiredIdentity
from tests.reconcile.mapping.support import group, user

BASE = "dc=example,dc=org"
SETTINGS = LdapSettings(url="ldap://127.0.0.1", base_dn=BASE)


def layout(toml: str = "", **overrides: object) -> Layout:
    settings = replace(SETTINGS, **overrides)  # type: ignore[arg-type]
    if toml:
        compiled = compile_mapping(tomllib.loads(toml)["mapping"], "map.toml")
        settings = replace(settings, mapping=compiled.target("ldap"))
    return Layout.from_settings(settings)


def with_typed(desired: DesiredIdentity, **typed: object) -> DesiredIdentity:
    return replace(desired, **typed)  # type: ignore[arg-type]


MAPPING = f"""
[mapping.value_maps.types]
default = "staff"
values = {{ Contractor = "contractor" }}

[mapping.ldap.user.attributes]
description = "{{{{ user.title }}}} in {{{{ enterprise.department }}}}"
employeeType = "{{{{ user.userType | value_map('types') }}}}"
title = ""
mail = "{{{{ user.userName | lower }}}}@example.org"

[[mapping.ldap.user.placement]]
when = "enterprise.department == 'Sales'"
dn = "ou=sales,ou=people,{BASE}"

[mapping.ldap.group.attributes]
description = "Entra group {{{{ group.displayName }}}}"

[[mapping.ldap.group.placement]]
when = "group.displayName.startswith('App-')"
dn = "ou=apps,ou=groups,{BASE}"
"""


def test_without_a_mapping_the_layout_is_what_it_was() -> None:
    plain = layout()
    assert plain.mapping is None
    desired = with_typed(user(), email="e1@x", title="Eng")
    values = plain.user_values(desired, None)
    assert values["mail"] == ["e1@x"] and values["title"] == ["Eng"]
    assert "description" not in values
    assert plain.user_dn(desired, values) == f"uid=E1,ou=people,{BASE}"
    assert plain.group_dn("Sales") == f"cn=Sales,ou=groups,{BASE}"
    assert plain.group_values(group()) == {"cn": ["Sales"]}


def test_mapped_keys_add_attributes_take_over_defaults_and_leave_some_alone() -> None:
    mapped = layout(MAPPING)
    desired = with_typed(
        user(userName="E1", title="Eng", userType="Contractor", enterprise={"department": "R&D"}),
        email="someone@else",
        title="Eng",
        given_name="Ada",
    )
    values = mapped.user_values(desired, None)
    assert values["description"] == ["Eng in R&D"]
    assert values["employeeType"] == ["contractor"]
    assert values["mail"] == ["e1@example.org"]  # the template, not the typed email
    assert values["givenName"] == ["Ada"]  # defaults not named stay
    assert "title" not in values  # "" : not managed, neither written nor removed
    assert "title" not in mapped.managed_attributes
    assert {"description", "employeeType", "mail"} <= set(mapped.managed_attributes)
    assert "mail" not in mapped.attributes.values() or mapped.attributes.get("email") is None


def test_placement_gives_the_container_and_disabled_users_still_move() -> None:
    mapped = layout(MAPPING)
    sales = user(enterprise={"department": "Sales"})
    assert mapped.user_dn(sales, {}) == f"uid=E1,ou=sales,ou=people,{BASE}"
    other = user(enterprise={"department": "R&D"})
    assert mapped.user_dn(other, {}) == f"uid=E1,ou=people,{BASE}"
    gone = with_typed(sales, active=False)
    assert mapped.user_dn(gone, {}) == f"uid=E1,ou=disabled,{BASE}"


def test_group_placement_values_and_containers() -> None:
    mapped = layout(MAPPING)
    app = group(displayName="App-CRM")
    assert mapped.group_container(app) == f"ou=apps,ou=groups,{BASE}"
    assert mapped.group_dn("App-CRM", mapped.group_container(app)) == (
        f"cn=App-CRM,ou=apps,ou=groups,{BASE}"
    )
    assert mapped.group_values(app) == {"cn": ["App-CRM"], "description": ["Entra group App-CRM"]}
    assert mapped.group_managed_attributes == ["cn", "description"]
    assert mapped.containers == [
        f"ou=people,{BASE}",
        f"ou=groups,{BASE}",
        f"ou=disabled,{BASE}",
        f"ou=sales,ou=people,{BASE}",
        f"ou=apps,ou=groups,{BASE}",
    ]


def check(toml: str, **overrides: object) -> set[tuple[str, str, str]]:
    problems, _ = check_ldap_mapping(layout(toml, **overrides), "map.toml", STATIC_SCHEMA)
    assert all(p.file == "map.toml" for p in problems)
    return {(p.table, p.key, p.message) for p in problems}


def test_a_good_mapping_passes_the_check() -> None:
    assert check(MAPPING) == set()


@pytest.mark.parametrize(
    ("attributes", "key", "message"),
    [
        ('uid = "{{ user.userName }}"', "uid", "the key scim-sync finds users by"),
        ('objectClass = "x"', "objectClass", "set from SCIM_SYNC_LDAP_USER_OBJECT_CLASSES"),
        ('manager = "{{ user.x }}"', "manager", "'manager' holds the manager's DN"),
        ('sn = ""', "sn", "'sn' is required by inetOrgPerson"),
        ('surname = ""', "surname", "'surname' is required by"),
        ('costCenter = "x"', "costCenter", "'costCenter' is not an attribute of inetOrgPerson"),
    ],
)
def test_attributes_the_target_owns_requires_or_lacks_are_refused(
    attributes: str, key: str, message: str
) -> None:
    found = check(f"[mapping.ldap.user.attributes]\n{attributes}\n")
    ((table, found_key, text),) = found
    assert (table, found_key) == ("mapping.ldap.user.attributes", key)
    assert message in text


def test_manager_may_be_left_unmanaged_and_aliases_are_allowed() -> None:
    assert (
        check('[mapping.ldap.user.attributes]\nmanager = ""\nsurname = "{{ user.x }}"\n') == set()
    )


def test_the_disable_flag_is_the_targets_under_the_attribute_policy() -> None:
    found = check('[mapping.ldap.user.attributes]\nemployeeType = "x"\n', disable="attribute")
    assert {k for _, k, _ in found} == {"employeeType"}


def test_group_members_and_name_are_the_targets() -> None:
    found = check('[mapping.ldap.group.attributes]\ncn = "x"\nmember = "y"\nowner = "z"\n')
    assert {k for _, k, _ in found} == {"cn", "member"}


def test_an_ad_groups_display_name_is_the_targets() -> None:
    """AD cuts a group's CN to 64 characters; its whole name, in displayName, finds it."""
    found = check(
        '[mapping.ldap.group.attributes]\ndisplayName = "x"\ndescription = "y"\n',
        directory="active_directory",
    )
    ((_, key, message),) = found
    assert key == "displayName" and "which finds its entry" in message


@pytest.mark.parametrize(
    ("kind", "dn", "message"),
    [
        ("user", f"ou=sales,{BASE}", f"is outside the managed subtree 'ou=people,{BASE}'"),
        ("user", f"ou=x,ou=groups,{BASE}", "is outside the managed subtree"),
        ("group", f"ou=x,ou=people,{BASE}", f"is outside the managed subtree 'ou=groups,{BASE}'"),
        ("user", "ou=sales,dc=other", "is outside the managed subtree"),
        ("user", "not a dn", "not a DN"),
    ],
)
def test_placement_outside_the_managed_subtree_is_refused(kind: str, dn: str, message: str) -> None:
    found = check(f'[[mapping.ldap.{kind}.placement]]\nwhen = "true"\ndn = "{dn}"\n')
    ((table, key, text),) = found
    assert (table, key) == (f"mapping.ldap.{kind}.placement[0]", "dn")
    assert message in text


def test_placement_inside_the_disabled_subtree_is_refused() -> None:
    found = check(
        f'[[mapping.ldap.user.placement]]\nwhen = "true"\ndn = "ou=x,ou=off,ou=people,{BASE}"\n',
        disabled_dn=f"ou=off,ou=people,{BASE}",
    )
    assert any("where disabled users go" in m for _, _, m in found)


def test_object_classes_the_static_schema_lacks_leave_names_unchecked_with_a_note() -> None:
    mapped = layout(
        '[mapping.ldap.user.attributes]\nloginShell = "/bin/sh"\n',
        user_object_classes="inetOrgPerson posixAccount",
    )
    problems, notes = check_ldap_mapping(mapped, "map.toml", STATIC_SCHEMA)
    assert problems == []
    assert notes and "posixAccount" in notes[0] and "static" in notes[0]


def test_a_server_schema_is_read_from_its_definitions() -> None:
    schema = parse_schema(
        [
            "( 1.1 NAME 'top' ABSTRACT MUST objectClass )",
            "( 1.2 NAME ( 'account' 'acct' ) SUP top STRUCTURAL MUST uid MAY ( host $ loginShell ) )",
        ],
        ["( 2.1 NAME ( 'uid' 'userid' ) )"],
        "server",
    )
    assert schema.allowed(["account"]) == {"objectclass", "uid", "userid", "host", "loginshell"}
    assert schema.required(["ACCT"]) == {"uid", "userid", "objectclass"}
    assert schema.unknown_classes(["account", "posixAccount"]) == ["posixAccount"]
