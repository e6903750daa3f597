"""sAMAccountName and CN rules, without a server (the DC tests prove them against Samba)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.ldap.active_directory import account_names, common_names


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("a" * 21, "21 characters"),
        ("a/b", "'/'"),
        ("ann@example", "'@'"),
        ('q"uote', "'\"'"),
        ("tab\there", "'\\t'"),
        ("trailing.", "ends with a period"),
        (" . .", "only of spaces and periods"),
        ("", "empty"),
        (" lead", "begins or ends with a space"),
    ],
)
def test_windows_rules_refuse_what_samba_may_accept(name: str, reason: str) -> None:
    problem = account_names.problem(name)
    assert problem is not None and reason in problem


@pytest.mark.parametrize("name", ["a" * 20, "j.doe", "Jane Doe", "E1234567", "ünïcode"])
def test_valid_names_pass(name: str) -> None:
    assert account_names.problem(name) is None


def test_the_default_is_the_username_when_it_fits() -> None:
    assert account_names.default_name("E1234567") == "E1234567"


@pytest.mark.parametrize(
    ("user_name", "expected"),
    [
        ("jane.doe@example.com", "jane.doe"),
        ("a-very-long-user-name-indeed", "a-very-long-user-nam"),
        ("x[1]*?", "x1"),
        ("abcdefghijklmnopqrs.t", "abcdefghijklmnopqrs"),
    ],
)
def test_a_username_that_does_not_fit_is_cut_to_one_that_does(
    user_name: str, expected: str
) -> None:
    assert account_names.default_name(user_name) == expected


def test_a_username_of_symbols_maps_to_a_stable_hashed_name() -> None:
    first = account_names.default_name("@@@///")
    assert first == account_names.default_name("@@@///")
    assert first.startswith("x") and len(first) == 13
    assert first != account_names.default_name("@@@//")


@given(st.text(max_size=60))
def test_every_source_gives_a_valid_name(source: str) -> None:
    assert account_names.problem(account_names.default_name(source)) is None


def test_a_taken_name_gets_the_first_free_suffix_ignoring_case() -> None:
    taken = account_names.taken_among(["JDOE", "jdoe2"])
    assert account_names.choose("jdoe", taken) == "jdoe3"
    assert account_names.choose("other", taken) == "other"


def test_a_suffix_keeps_the_name_within_20_characters() -> None:
    base = "abcdefghijklmnopq.st"
    taken = account_names.taken_among([base] + [f"abcdefghijklmnopq.s{n}" for n in range(2, 10)])
    chosen = account_names.choose(base, taken)
    assert chosen == "abcdefghijklmnopq.10"
    assert account_names.problem(chosen) is None
    assert account_names.with_suffix("abcdefghijklmnopqr.t", 7) == "abcdefghijklmnopqr.7"


@given(st.text(min_size=1, max_size=30), st.integers(min_value=2, max_value=9999))
def test_every_suffixed_name_is_valid(source: str, number: int) -> None:
    base = account_names.default_name(source)
    assert account_names.problem(account_names.with_suffix(base, number)) is None


def test_an_invalid_base_is_refused_not_suffixed() -> None:
    with pytest.raises(account_names.AccountNameError, match="ends with a period"):
        account_names.choose("bad.", lambda _name: False)


def test_all_suffixes_taken_is_an_error() -> None:
    with pytest.raises(account_names.AccountNameError, match="taken"):
        account_names.choose("full", lambda _name: True)


def test_a_cn_is_the_display_name_cleaned_and_cut_to_64() -> None:
    assert common_names.clean("  Jane \t Doe\n", "jdoe") == "Jane Doe"
    assert common_names.clean("\x00\x01", "jdoe") == "jdoe"
    assert len(common_names.clean("x" * 100, "jdoe")) == 64


def test_a_cn_clash_takes_the_account_name_then_a_counter() -> None:
    container = "OU=People,DC=example,DC=test"
    taken = {
        f"CN=Jane Doe,{container}".lower(),
        f"CN=Jane Doe (jdoe),{container}".lower(),
    }
    chosen = common_names.choose("Jane Doe", "jdoe", container, lambda dn: dn.lower() in taken)
    assert chosen == f"CN=Jane Doe (jdoe 2),{container}"
    free = common_names.choose("Jane Doe", "jdoe", container, lambda _dn: False)
    assert free == f"CN=Jane Doe,{container}"


def test_a_suffixed_cn_keeps_its_suffix_within_64_characters() -> None:
    name = "N" * 64
    second = list(common_names.candidates(name, "jdoe"))[1]
    assert len(second) == 64 and second.endswith(" (jdoe)")


def test_a_cn_is_escaped_in_the_dn() -> None:
    dn = common_names.choose('R&D, "Core" + Ops #1', "rd", "OU=G,DC=x", lambda _dn: False)
    assert dn == 'CN=R&D\\, \\"Core\\" \\+ Ops #1,OU=G,DC=x'
