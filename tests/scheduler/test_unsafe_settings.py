"""Unsafe settings are refused at start, naming the variable and the reason: a bind password in
clear text to another host, placeholders of the deploy templates, guessable keys."""

from __future__ import annotations

import base64
import re
import secrets

import pytest

from inbound.auth import SecretKind, new_secret
from scheduler.settings import SettingsError, load_settings
from scheduler.unsafe_settings import MIN_KEY_BITS, estimated_bits

LDAP = {"SCIM_SYNC_LDAP_BASE_DN": "dc=example,dc=org", "SCIM_SYNC_LDAP_PASSWORD": "hunter2-ldap"}
WEBHOOK = {"SCIM_SYNC_TOKEN_SINK": "webhook:https://receiver.example.org/token"}


def refusal(env: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as refused:
        load_settings(env)
    message = str(refused.value)
    assert "hunter2" not in message
    return message


@pytest.mark.parametrize(
    "url",
    [
        "ldap://directory.example.org",
        "LDAP://10.0.0.5:389",
        "Ldap://Directory.Example.Org",
        "ldap://127.0.0.1 ldap://directory.example.org",  # the second of a failover list
        "ldaps://directory.example.org ldap://10.0.0.6",
        "ldap://127.1",  # shorthand: what it resolves to is not known here
        "ldap:///",  # no host: the library's default, not known here
        "ldap://[fe80::1]",
        "ldap://localhost.example.org",
        "ldap://[::ffff:10.0.0.5]",
    ],
)
def test_a_password_in_clear_to_another_host_is_refused(url: str) -> None:
    message = refusal({**LDAP, "SCIM_SYNC_LDAP_URL": url})
    assert "would send SCIM_SYNC_LDAP_PASSWORD in clear text" in message
    assert "SCIM_SYNC_LDAP_ALLOW_CLEARTEXT=true" in message


@pytest.mark.parametrize(
    "url",
    [
        "ldap://127.0.0.1:389",
        "ldap://127.8.9.10",
        "ldap://localhost",
        "LDAP://LOCALHOST:389",
        "ldap://localhost.",
        "ldap://[::1]:389",
        "ldap://[::ffff:127.0.0.1]",
        "ldaps://directory.example.org",
        "LDAPS://directory.example.org ldaps://10.0.0.6",
    ],
)
def test_loopback_and_tls_are_accepted(url: str) -> None:
    assert load_settings({**LDAP, "SCIM_SYNC_LDAP_URL": url}).ldap.url == url


@pytest.mark.parametrize(
    "extra",
    [
        {"SCIM_SYNC_LDAP_STARTTLS": "true"},
        {"SCIM_SYNC_LDAP_ALLOW_CLEARTEXT": "true"},
        {"SCIM_SYNC_LDAP_PASSWORD": ""},  # an anonymous bind sends no password
    ],
)
def test_starttls_an_explicit_allowance_or_no_password_is_accepted(
    extra: dict[str, str],
) -> None:
    load_settings({**LDAP, "SCIM_SYNC_LDAP_URL": "ldap://directory.example.org", **extra})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SCIM_SYNC_ADMIN_KEY", "ssa_CHANGE-ME-echo-ssa_-then-openssl-rand-hex-32"),
        ("SCIM_SYNC_ADMIN_KEY", "ssa_changeme"),
        ("SCIM_SYNC_LDAP_PASSWORD", "CHANGE-ME"),
        ("SCIM_SYNC_GRAPH_CLIENT_SECRET", "change_me"),
        ("SCIM_SYNC_TOKEN_WEBHOOK_SECRET", "CHANGE-ME-at-least-32-characters-for-webhook-HMAC"),
        ("SCIM_SYNC_DATABASE_URL", "postgresql://scim_sync:CHANGE-ME@db.internal:5432/scim"),
        ("SCIM_SYNC_IDM_DATABASE_URL", "postgresql://idm:Replace-Me@db.internal:5432/idm"),
    ],
)
def test_placeholders_of_the_deploy_templates_are_refused(name: str, value: str) -> None:
    message = refusal({name: value})
    assert re.search(f"{name}: replace the placeholder '[^']+' of the deploy templates", message)
    assert "entropy" not in message  # named as a placeholder, not as a weak key


@pytest.mark.parametrize(
    "key",
    [
        "a" * 32,
        "0123456789abcdef" * 2,
        "0123456789abcdef" * 4,
        "ab" * 20,
        "Password1" * 4,
        "abcdefghijklmnopqrstuvwxyzABCDEF",
        "1234567890" * 4,
        "deadbeef" * 8,
        "0" * 64,
    ],
)
def test_guessable_keys_are_refused(key: str) -> None:
    assert estimated_bits(key) < MIN_KEY_BITS
    message = refusal({"SCIM_SYNC_ADMIN_KEY": "ssa_" + key})
    assert "SCIM_SYNC_ADMIN_KEY has too little entropy" in message
    assert key not in message
    webhook = refusal({**WEBHOOK, "SCIM_SYNC_TOKEN_WEBHOOK_SECRET": key})
    assert "SCIM_SYNC_TOKEN_WEBHOOK_SECRET has too little entropy" in webhook
    assert key not in webhook


def test_the_length_rule_still_holds() -> None:
    assert "at least 32" in refusal({"SCIM_SYNC_ADMIN_KEY": "ssa_" + secrets.token_hex(15)})


@pytest.mark.slow
def test_keys_scim_sync_generates_always_pass() -> None:
    """The admin key printed on first start, and what the docs say to run, with room to spare
    (the lowest of many draws stays far above the bar)."""
    generated = [new_secret(SecretKind.ADMIN) for _ in range(5000)]
    assert min(estimated_bits(k.removeprefix("ssa_")) for k in generated) > MIN_KEY_BITS + 40
    load_settings({"SCIM_SYNC_ADMIN_KEY": generated[0]})
    for _ in range(200):
        load_settings(
            {
                "SCIM_SYNC_ADMIN_KEY": "ssa_" + secrets.token_hex(32),
                **WEBHOOK,
                "SCIM_SYNC_TOKEN_WEBHOOK_SECRET": secrets.token_hex(32),
            }
        )
        load_settings(
            {"SCIM_SYNC_ADMIN_KEY": "ssa_" + base64.b64encode(secrets.token_bytes(32)).decode()}
        )
