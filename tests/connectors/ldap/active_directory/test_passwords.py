"""First passwords: the domain's policy, Windows' complexity rules, the transport guard."""

from __future__ import annotations

import random
import socket

import pytest

from connectors.ldap.active_directory import passwords
from connectors.ldap.active_directory.passwords import NewPassword, PasswordPolicy


def test_the_policy_is_read_from_the_domain_object() -> None:
    policy = PasswordPolicy.from_domain({"minPwdLength": [b"12"], "pwdProperties": [b"1"]})
    assert policy == PasswordPolicy(min_length=12, complex=True)
    relaxed = PasswordPolicy.from_domain({"MINPWDLENGTH": ["0"], "pwdproperties": ["16"]})
    assert relaxed == PasswordPolicy(min_length=0, complex=False)


def test_a_malformed_policy_is_an_error() -> None:
    with pytest.raises(passwords.PasswordPolicyError, match="minpwdlength"):
        PasswordPolicy.from_domain({"minPwdLength": ["seven"]})


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("Sh0rt!", "shorter"),
        ("alllowercaseletters", "fewer than three"),
        ("Xjdoe-12345678", "sAMAccountName"),
        ("Q1!doewxyzabcd", "display name"),
        ("Q1!janewxyzabc", "display name"),
    ],
)
def test_windows_complexity_rules(password: str, problem: str) -> None:
    found = passwords.problems(password, PasswordPolicy(10, True), "JDoe", "Jane Q. Doe")
    assert any(problem in p for p in found), found


def test_short_name_parts_do_not_count() -> None:
    # "Q." and "Li" are under three characters: Windows ignores them, so do we
    assert passwords.problems("Qq1!Li-abcdefg", PasswordPolicy(7, True), "li", "Q. Li") == []


@pytest.mark.parametrize("seed", range(50))
def test_generated_passwords_meet_policy_and_avoid_the_names(seed: int) -> None:
    policy = PasswordPolicy(min_length=30, complex=True)
    password = passwords.generate(policy, "abc", "Abc Def", chooser=random.Random(seed))
    assert passwords.problems(password.reveal(), policy, "abc", "Abc Def") == []
    assert len(password.reveal()) == 30


def test_a_policy_beyond_what_ad_stores_is_an_error() -> None:
    with pytest.raises(passwords.PasswordPolicyError):
        passwords.generate(PasswordPolicy(min_length=300), "a", "b")


def test_the_password_hides_in_repr_str_and_formatting() -> None:
    secret = passwords.generate(PasswordPolicy(), "jdoe", "Jane Doe")
    for shown in (repr(secret), str(secret), f"{secret}", f"{[secret]}"):
        assert secret.reveal() not in shown
        assert "****" in shown


def test_unicode_pwd_is_the_quoted_password_in_utf16le() -> None:
    assert passwords.unicode_pwd(NewPassword("Pä55!")) == '"Pä55!"'.encode("utf-16-le")
    attributes = passwords.password_attributes(NewPassword("x"), must_change=True)
    assert attributes == {"unicodePwd": ['"x"'.encode("utf-16-le")], "pwdLastSet": [b"0"]}
    assert "pwdLastSet" not in passwords.password_attributes(NewPassword("x"), must_change=False)


def test_a_plain_socket_is_refused_before_anything_is_sent() -> None:
    left, right = socket.socketpair()
    with left, right, pytest.raises(passwords.PasswordTransportError, match="ldaps://"):
        passwords.require_encrypted(left, "ldap://dc.example:389")
