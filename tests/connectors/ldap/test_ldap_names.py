"""RFC 4514 DN and RFC 4515 filter escaping: exact round trips, including hostile names."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.ldap.names import (
    DnSyntaxError,
    dn_key,
    escape_dn_value,
    escape_filter_value,
    first_value,
    is_within,
    parent_dn,
    parse_dn,
    rdn,
)

HOSTILE = [
    'R&D, "Core" + Ops #1',
    'a,b+c"d\\e<f>g;h=i',
    " leading and trailing ",
    "#hash first",
    "nul\x00inside",
    "Zoë Ørsted 東京",
    "*(wild)*",
    "  ",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_round_trip(value: str) -> None:
    dn = f"{rdn('cn', value)},ou=groups,dc=example,dc=org"
    assert first_value(dn) == value
    assert parent_dn(dn) == "ou=groups,dc=example,dc=org"


def test_the_issue_example_is_escaped_per_rfc_4514() -> None:
    assert escape_dn_value('R&D, "Core" + Ops #1') == 'R&D\\, \\"Core\\" \\+ Ops #1'
    assert escape_dn_value("#1 ") == "\\#1\\ "
    assert escape_dn_value(" x") == "\\ x"
    assert escape_dn_value("a=b;c<d>") == "a\\=b\\;c\\<d\\>"
    assert escape_dn_value("nul\x00") == "nul\\00"


def test_servers_hex_escapes_parse_to_the_same_value() -> None:
    """slapd answers with \\2C-style escapes; they name the same entry."""
    ours = "cn=" + escape_dn_value('R&D, "Core" + Ops #1') + ",ou=groups,dc=x"
    theirs = "cn=R&D\\2C \\22Core\\22 \\2B Ops #1,ou=groups,dc=x"
    assert first_value(theirs) == 'R&D, "Core" + Ops #1'
    assert dn_key(ours) == dn_key(theirs)
    assert first_value("cn=Zo\\C3\\AB,dc=x") == "Zoë"


def test_multi_valued_rdns_and_spacing() -> None:
    assert parse_dn("cn=a+sn=b, ou=x") == [(("cn", "a"), ("sn", "b")), (("ou", "x"),)]
    assert dn_key("CN=A+SN=B,OU=X") == dn_key("sn=b+cn=a,ou=x")
    assert dn_key("cn=a+sn=b,ou=x") != dn_key("cn=a,sn=b,ou=x")


def test_containment_is_by_parsed_rdns() -> None:
    assert is_within("uid=a,ou=People,dc=X", "ou=people,dc=x")
    assert is_within("ou=people,dc=x", "ou=people,dc=x")
    assert not is_within("uid=a,ou=people2,dc=x", "ou=people,dc=x")
    assert not is_within("dc=x", "ou=people,dc=x")


@pytest.mark.parametrize("bad", ["noequals", "cn=a,=b", "cn=trailing\\"])
def test_malformed_dns_are_rejected(bad: str) -> None:
    with pytest.raises(DnSyntaxError):
        parse_dn(bad)


def test_filter_values_escape_rfc_4515_specials() -> None:
    assert escape_filter_value("a*(b)\\c\x00") == "a\\2a\\28b\\29\\5cc\\00"
    assert escape_filter_value('R&D, "Core" + Ops #1') == 'R&D, "Core" + Ops #1'
    assert escape_filter_value("Zoë") == "Zoë"


@given(st.text(min_size=1))
def test_any_text_round_trips_through_an_rdn(value: str) -> None:
    dn = f"{rdn('cn', value)},dc=example,dc=org"
    assert first_value(dn) == value
    assert parse_dn(dn)[1:] == [(("dc", "example"),), (("dc", "org"),)]


@given(st.text())
def test_escaped_filter_values_are_exact(value: str) -> None:
    """No bare specials, nothing a filter reader would strip or choke on, and the escapes
    decode to the very value."""
    escaped = escape_filter_value(value)
    assert not any(c in escaped for c in "*()\x00")
    assert escaped == escaped.strip() and escaped.isprintable()
    decoded = re.sub(rb"\\([0-9a-f]{2})", lambda m: bytes([int(m.group(1), 16)]), escaped.encode())
    assert decoded == value.encode()
