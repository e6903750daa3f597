"""The LDAP mapping, settings checks and error classification, without a server."""

from __future__ import annotations

import logging

import pytest
from ldap3.core.exceptions import LDAPSocketOpenError

from connectors.ldap.connection import ConnectionPool
from connectors.ldap.errors import ConnectionLostError, LdapResultError, classify
from connectors.ldap.mapping import Layout
from connectors.ldap.settings import LdapSettings, MappingError, parse_attribute_map
from reconcile.errors import PermanentTargetError, TargetUnavailableError, TransientTargetError
from reconcile.model import DesiredIdentity
from scheduler.settings import SettingsError, load_settings

BASE = "dc=example,dc=org"


def layout(**overrides: object) -> Layout:
    values: dict[str, object] = {"url": "ldap://127.0.0.1", "base_dn": BASE}
    values.update(overrides)
    return Layout.from_settings(LdapSettings(**values))  # type: ignore[arg-type]


def test_default_mapping_follows_the_interface() -> None:
    desired = DesiredIdentity(
        "s1",
        1,
        "E1",
        email="e1@x",
        given_name="Ada",
        family_name="King",
        title="Eng",
        department="R&D",
        employee_number="42",
    )
    values = layout().user_values(desired, "uid=boss,ou=people," + BASE)
    assert values == {
        "uid": ["E1"],
        "mail": ["e1@x"],
        "givenName": ["Ada"],
        "sn": ["King"],
        "displayName": [],
        "cn": ["Ada King"],
        "title": ["Eng"],
        "departmentNumber": ["R&D"],
        "employeeNumber": ["42"],
        "manager": ["uid=boss,ou=people," + BASE],
    }
    assert layout().user_dn(desired, values) == f"uid=E1,ou=people,{BASE}"


def test_sn_and_cn_fall_back_to_the_user_id() -> None:
    values = layout().user_values(DesiredIdentity("s1", 1, "E2"), None)
    assert values["sn"] == ["E2"] and values["cn"] == ["E2"]


def test_disabled_users_move_or_get_flagged() -> None:
    off = DesiredIdentity("s1", 1, "E3", active=False)
    moved = layout()
    assert moved.user_dn(off, moved.user_values(off, None)) == f"uid=E3,ou=disabled,{BASE}"
    flagged = layout(disable="attribute", disabled_attribute="description=off")
    assert flagged.user_values(off, None)["description"] == ["off"]
    assert flagged.user_dn(off, {}) == f"uid=E3,ou=people,{BASE}"
    assert "description" in flagged.managed_attributes


def test_hostile_user_ids_are_escaped_in_the_dn() -> None:
    desired = DesiredIdentity("s1", 1, "a,b+c")
    assert layout().user_dn(desired, {"uid": ["a,b+c"]}) == f"uid=a\\,b\\+c,ou=people,{BASE}"


def test_attribute_map_changes_and_errors() -> None:
    mapped = parse_attribute_map("department=ou, title=")
    assert mapped["department"] == "ou" and "title" not in mapped
    with pytest.raises(MappingError, match="nosuchfield"):
        parse_attribute_map("nosuchfield=x")
    with pytest.raises(MappingError, match="user_id"):
        parse_attribute_map("user_id=")


def test_settings_read_from_the_environment_and_checked() -> None:
    env = {
        "SCIM_SYNC_LDAP_URL": "ldaps://a.example ldaps://b.example",
        "SCIM_SYNC_LDAP_BASE_DN": BASE,
        "SCIM_SYNC_LDAP_CONNECTIONS": "8",
        "SCIM_SYNC_LDAP_ADOPT": "never",
    }
    settings = load_settings(env).ldap
    assert settings.urls == ["ldaps://a.example", "ldaps://b.example"]
    assert settings.connections == 8 and settings.adopt == "never"
    assert settings.people == f"ou=people,{BASE}"
    for bad, message in (
        ({"SCIM_SYNC_LDAP_ADOPT": "maybe"}, "ADOPT"),
        ({"SCIM_SYNC_LDAP_URL": "http://x"}, "not an ldap"),
        ({"SCIM_SYNC_LDAP_USERS_DN": "ou=people,dc=other"}, "below"),
        ({"SCIM_SYNC_LDAP_CONNECTIONS": "many"}, "whole number"),
        ({"SCIM_SYNC_LDAP_ATTRIBUTE_MAP": "colour=c"}, "ATTRIBUTE_MAP"),
        ({"SCIM_SYNC_LDAP_TLS_CA_FILE": "/ca.pem", "SCIM_SYNC_LDAP_URL": "ldap://x"}, "TLS"),
    ):
        with pytest.raises(SettingsError, match=message):
            load_settings({**env, **bad})


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (LdapResultError("modify", "uid=a", 51, "busy"), TransientTargetError),
        (LdapResultError("modify", "uid=a", 52, ""), TransientTargetError),
        (LdapResultError("add", "uid=a", 68, ""), TransientTargetError),
        (LdapResultError("add", "uid=a", 65, "no sn"), PermanentTargetError),
        (LdapResultError("add", "uid=a", 34, ""), PermanentTargetError),
        (LdapResultError("add", "uid=a", 19, ""), PermanentTargetError),
        (LdapResultError("add", "uid=a", 50, ""), PermanentTargetError),
        (LdapResultError("bind", "cn=admin", 49, ""), TargetUnavailableError),
        (ConnectionLostError("reset"), TransientTargetError),
        (LDAPSocketOpenError("timed out"), TransientTargetError),
    ],
)
def test_errors_are_classified(error: Exception, kind: type[Exception]) -> None:
    classified = classify(error)
    assert type(classified) is kind
    assert classified.reason


def test_a_permanent_reason_names_the_operation_entry_and_code() -> None:
    reason = classify(LdapResultError("add", "uid=a,ou=people", 65, "requires 'sn'")).reason
    assert reason == "LDAP add of 'uid=a,ou=people' failed: objectClassViolation (requires 'sn')"


@pytest.mark.parametrize(
    ("url", "warned"),
    [
        ("ldap://directory.example.org", True),
        ("ldap://10.0.0.5:389", True),
        ("ldap://127.0.0.1:389", False),
        ("ldap://localhost", False),
        ("ldaps://directory.example.org", False),
    ],
)
def test_a_password_in_clear_to_another_host_is_warned_about(
    url: str, warned: bool, caplog: pytest.LogCaptureFixture
) -> None:
    settings = LdapSettings(url=url, base_dn=BASE, bind_dn="cn=a", password="s3cret")
    with caplog.at_level(logging.WARNING, logger="connectors.ldap.connection"):
        ConnectionPool(settings, 1).close()
    assert any("in clear" in r.getMessage() for r in caplog.records) is warned
    assert "s3cret" not in caplog.text
