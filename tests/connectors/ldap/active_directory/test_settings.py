"""The directory kind and the Active Directory settings: read from the environment, checked."""

from __future__ import annotations

import pytest

from connectors.ldap.settings import ACTIVE_DIRECTORY_READY, NOT_READY, LdapSettings
from scheduler.settings import SettingsError, _build, load_settings

BASE = {
    "SCIM_SYNC_LDAP_URL": "ldaps://dc.example.test",
    "SCIM_SYNC_LDAP_BASE_DN": "DC=example,DC=test",
}


def from_env(env: dict[str, str]) -> LdapSettings:
    """The LDAP settings as ``load_settings`` reads them, before it validates them."""
    settings: LdapSettings = _build(LdapSettings, env, {})
    return settings


def test_openldap_is_the_default_and_ad_is_chosen_by_name() -> None:
    assert not load_settings(BASE).ldap.active_directory
    ad = from_env({**BASE, "SCIM_SYNC_LDAP_DIRECTORY": "active_directory"})
    assert ad.active_directory
    assert ad.must_change_password is True
    assert ad.password_sink == "none"
    assert ad.foreign_markers == ("mS-DS-ConsistencyGuid",)


def test_the_ad_settings_are_read_from_the_environment() -> None:
    ldap = from_env(
        {
            **BASE,
            "SCIM_SYNC_LDAP_DIRECTORY": "active_directory",
            "SCIM_SYNC_LDAP_MUST_CHANGE_PASSWORD": "false",
            "SCIM_SYNC_LDAP_PASSWORD_SINK": "file:/run/secrets/first-passwords",
            "SCIM_SYNC_LDAP_FOREIGN_OWNER_ATTRIBUTES": "mS-DS-ConsistencyGuid, adminDescription",
        }
    )
    assert ldap.must_change_password is False
    assert ldap.password_sink == "file:/run/secrets/first-passwords"
    assert ldap.foreign_markers == ("mS-DS-ConsistencyGuid", "adminDescription")
    assert others(ldap) == []


def others(settings: LdapSettings) -> list[str]:
    """The problems besides "not available yet", which goes once the planner uses AD."""
    return [p for p in settings.problems() if p != NOT_READY]


def test_ad_is_refused_until_the_planner_writes_its_way() -> None:
    env = {**BASE, "SCIM_SYNC_LDAP_DIRECTORY": "active_directory"}
    if ACTIVE_DIRECTORY_READY:
        assert load_settings(env).ldap.active_directory
    else:
        with pytest.raises(SettingsError, match="not available in this build"):
            load_settings(env)


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
        ({"password_sink": "webhook:https://hooks.example.test/p"}, "PASSWORD_WEBHOOK_SECRET"),
        ({"foreign_owner_attributes": "ok bad;name"}, "bad;name is not an attribute name"),
    ],
)
def test_each_mistake_names_its_variable(overrides: dict[str, str], message: str) -> None:
    values: dict[str, str] = {
        "url": BASE["SCIM_SYNC_LDAP_URL"],
        "base_dn": BASE["SCIM_SYNC_LDAP_BASE_DN"],
        **overrides,
    }
    problems = LdapSettings(**values).problems()  # type: ignore[arg-type]
    assert any(message in p for p in problems), problems
    env = {f"SCIM_SYNC_LDAP_{k.upper()}": v for k, v in values.items()}
    with pytest.raises(SettingsError, match="SCIM_SYNC_LDAP_"):
        load_settings(env)


def test_starttls_satisfies_ad_and_a_loopback_webhook_may_be_http() -> None:
    settings = LdapSettings(
        url="ldap://dc.example.test",
        base_dn="DC=example,DC=test",
        directory="active_directory",
        starttls=True,
        password_sink="webhook:http://127.0.0.1:9000/first-password",
        password_webhook_secret="s" * 32,
    )
    assert others(settings) == []
