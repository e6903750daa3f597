"""The directory kind and the Active Directory settings: read from the environment, checked."""

from __future__ import annotations

import pytest

from connectors.ldap.settings import LdapSettings
from scheduler.settings import SettingsError, load_settings, validate

BASE = {
    "SCIM_SYNC_LDAP_URL": "ldaps://dc.example.test",
    "SCIM_SYNC_LDAP_BASE_DN": "DC=example,DC=test",
}


def test_openldap_is_the_default_and_ad_is_chosen_by_name() -> None:
    assert not load_settings(BASE).ldap.active_directory
    ad = load_settings({**BASE, "SCIM_SYNC_LDAP_DIRECTORY": "active_directory"}).ldap
    assert ad.active_directory
    assert ad.must_change_password is True
    assert ad.password_sink == "none"
    assert ad.foreign_markers == ("mS-DS-ConsistencyGuid",)


def test_the_ad_settings_are_read_from_the_environment() -> None:
    ldap = load_settings(
        {
            **BASE,
            "SCIM_SYNC_LDAP_DIRECTORY": "active_directory",
            "SCIM_SYNC_LDAP_MUST_CHANGE_PASSWORD": "false",
            "SCIM_SYNC_LDAP_PASSWORD_SINK": "file:/run/secrets/first-passwords",
            "SCIM_SYNC_LDAP_FOREIGN_OWNER_ATTRIBUTES": "mS-DS-ConsistencyGuid, adminDescription",
        }
    ).ldap
    assert ldap.must_change_password is False
    assert ldap.password_sink == "file:/run/secrets/first-passwords"
    assert ldap.foreign_markers == ("mS-DS-ConsistencyGuid", "adminDescription")
    validate(load_settings({**BASE, "SCIM_SYNC_LDAP_DIRECTORY": "active_directory"}))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"directory": "eDirectory"}, "must be openldap or active_directory"),
        (
            {"directory": "active_directory", "url": "ldap://dc.example.test"},
            "needs an ldaps:// URL or SCIM_SYNC_LDAP_STARTTLS=true",
        ),
        ({"password_sink": "graph"}, "is not none, file:PATH or webhook:URL"),
        ({"password_sink": "file:"}, "file: needs a path"),
        ({"password_sink": "webhook:http://hooks.example.test/p"}, "a first password would travel"),
        ({"foreign_owner_attributes": "ok bad;name"}, "bad;name is not an attribute name"),
    ],
)
def test_each_mistake_names_its_variable(overrides: dict[str, str], message: str) -> None:
    values: dict[str, object] = {
        "url": BASE["SCIM_SYNC_LDAP_URL"],
        "base_dn": BASE["SCIM_SYNC_LDAP_BASE_DN"],
        **overrides,
    }
    problems = LdapSettings(**values).problems()  # type: ignore[arg-type]
    assert any(message in p for p in problems), problems
    with pytest.raises(SettingsError, match="SCIM_SYNC_LDAP_"):
        validate(load_settings({f"SCIM_SYNC_LDAP_{k.upper()}": v for k, v in values.items()}))


def test_starttls_satisfies_ad_and_a_loopback_webhook_may_be_http() -> None:
    settings = LdapSettings(
        url="ldap://dc.example.test",
        base_dn="DC=example,DC=test",
        directory="active_directory",
        starttls=True,
        password_sink="webhook:http://127.0.0.1:9000/first-password",
    )
    assert settings.problems() == []
