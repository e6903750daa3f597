"""The hand-written request encoders send exactly the bytes ldap3 (pyasn1) sends for the same call.

Each case encodes one request both ways and compares the whole ``LDAPMessage``: values with
non-ASCII text, NUL, lengths needing one, two and three length octets, empty value lists, many
attributes, controls with and without criticality, and filters built the way the target builds
them (escaped values, nested ``&``/``|``/``!``).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ldap3.core.exceptions import LDAPInvalidFilterError
from ldap3.operation.add import add_operation
from ldap3.operation.delete import delete_operation
from ldap3.operation.modify import modify_operation
from ldap3.operation.modifyDn import modify_dn_operation
from ldap3.operation.search import search_operation
from ldap3.protocol.rfc2696 import paged_search_control

from connectors.ldap import ber
from connectors.ldap.directory import eq, users_filter
from connectors.ldap.filters import compile_filter
from connectors.ldap.mapping import Layout
from connectors.ldap.requests import (
    Control,
    add_request,
    delete_request,
    message,
    modify_dn_request,
    modify_request,
    paged_control,
    search_request,
)
from connectors.ldap.settings import LdapSettings
from connectors.ldap.users import read_ahead_filters
from reconcile.model import DesiredIdentity
from tests.support.ldap_pyasn1 import pyasn1_message

TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40)
LONG = st.builds(
    lambda piece, times: piece * times,
    st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=4),
    st.sampled_from([1, 50, 130, 17_000, 70_000]),
)
VALUE = st.one_of(TEXT, LONG)
NAME = st.from_regex(r"[a-zA-Z][a-zA-Z0-9-]{0,15}", fullmatch=True)
MESSAGE_ID = st.integers(0, 2**31 - 1)
CONTROLS = st.lists(
    st.tuples(
        st.from_regex(r"[12]\.[0-9]{1,3}(\.[0-9]{1,6}){0,6}", fullmatch=True),
        st.booleans(),
        st.one_of(st.none(), st.binary(max_size=300)),
    ),
    max_size=3,
)


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(
    dn=VALUE,
    attributes=st.dictionaries(NAME, st.lists(VALUE, max_size=3), max_size=40),
    controls=CONTROLS,
    message_id=MESSAGE_ID,
)
def test_add(
    dn: str, attributes: dict[str, list[str]], controls: list[Control], message_id: int
) -> None:
    mine = message(message_id, add_request(dn, attributes), controls)
    assert mine == pyasn1_message(
        message_id, "addRequest", add_operation(dn, attributes, True), controls
    )


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(
    dn=VALUE,
    changes=st.dictionaries(
        NAME,
        st.lists(st.tuples(st.sampled_from([0, 1, 2]), st.lists(VALUE, max_size=3)), min_size=1),
        max_size=30,
    ),
    controls=CONTROLS,
    message_id=MESSAGE_ID,
)
def test_modify(
    dn: str,
    changes: dict[str, list[tuple[int, list[str]]]],
    controls: list[Control],
    message_id: int,
) -> None:
    mine = message(message_id, modify_request(dn, changes), controls)
    assert mine == pyasn1_message(
        message_id, "modifyRequest", modify_operation(dn, changes, True), controls
    )


@settings(max_examples=100, deadline=None)
@given(
    dn=VALUE,
    new_rdn=VALUE,
    delete_old=st.booleans(),
    superior=st.one_of(st.none(), VALUE),
    message_id=MESSAGE_ID,
)
def test_modify_dn_and_delete(
    dn: str, new_rdn: str, delete_old: bool, superior: str | None, message_id: int
) -> None:
    mine = message(message_id, modify_dn_request(dn, new_rdn, delete_old, superior))
    theirs = modify_dn_operation(dn, new_rdn, delete_old, superior)
    assert mine == pyasn1_message(message_id, "modDNRequest", theirs, [])
    deleted = message(message_id, delete_request(dn))
    assert deleted == pyasn1_message(message_id, "delRequest", delete_operation(dn), [])


def filters(depth: int = 3) -> st.SearchStrategy[str]:
    """Filters as the target writes them: escaped equality values, presence, and/or/not."""
    leaf = st.one_of(
        st.builds(eq, NAME, st.one_of(TEXT, LONG)),
        st.builds(lambda name: f"({name}=*)", NAME),
    )
    if depth == 0:
        return leaf
    inner = filters(depth - 1)
    return st.one_of(
        leaf,
        st.builds(lambda parts: f"(&{''.join(parts)})", st.lists(inner, min_size=1, max_size=5)),
        st.builds(lambda parts: f"(|{''.join(parts)})", st.lists(inner, min_size=1, max_size=5)),
        st.builds(lambda part: f"(!{part})", inner),
    )


def ldap3_search(base: str, search_filter: str, attributes: list[str], scope: int = 2) -> Any:
    selection = attributes or ["1.1"]
    return search_operation(base, search_filter, scope, 3, selection, 0, 0, False, True, True)


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(
    base=VALUE,
    search_filter=filters(),
    attributes=st.lists(NAME, max_size=12),
    scope=st.sampled_from([0, 2]),
    message_id=MESSAGE_ID,
)
def test_search(
    base: str, search_filter: str, attributes: list[str], scope: int, message_id: int
) -> None:
    mine = message(message_id, search_request(base, search_filter, attributes, scope))
    theirs = ldap3_search(base, search_filter, attributes, scope)
    assert mine == pyasn1_message(message_id, "searchRequest", theirs, [])


@pytest.mark.parametrize(
    "search_filter",
    [
        "(cn=a*b*c)",
        "(cn=*end)",
        "(cn=start*)",
        "( & (a>=1) (b<=2) (c~=3) )",
        "(cn= padded )",
        "(cn=stray\\backslash)",
        "(cn=\\2a\\28\\29\\5c\\00)",
        "(cn:dn:2.5.13.5:=x)",
        "(:1.2.3:=x)",
        "(cn:=x)",
        "(o:dn:=x)",
        "(cn=R&D|x!y)",
    ],
)
def test_filter_forms_ldap3_accepts(search_filter: str) -> None:
    mine = message(1, search_request("o=x", search_filter, ["cn"]))
    theirs = ldap3_search("o=x", search_filter, ["cn"])
    assert mine == pyasn1_message(1, "searchRequest", theirs)


@pytest.mark.parametrize(
    "search_filter", ["", "cn=a", "(cn=a", "(&)", "(!(a=1)(b=2))", "(cn)", "(a=1)(b=2)", "((a=1))"]
)
def test_malformed_filters_are_refused(search_filter: str) -> None:
    with pytest.raises(LDAPInvalidFilterError):
        compile_filter(search_filter)


@given(size=st.integers(0, 2**31 - 1), cookie=st.one_of(st.none(), st.binary(max_size=300)))
def test_paged_results_control(size: int, cookie: bytes | None) -> None:
    theirs = paged_search_control(False, size, cookie)
    assert paged_control(size, cookie) == (
        "1.2.840.113556.1.4.319",
        False,
        bytes(theirs["controlValue"]),
    )


@given(st.integers(-(2**40), 2**40))
def test_integers_are_minimal_twos_complement(value: int) -> None:
    encoded = ber.integer(value)
    assert int.from_bytes(encoded[2:], "big", signed=True) == value
    if len(encoded) > 3:  # no redundant leading octet
        assert not (encoded[2] == 0 and encoded[3] < 0x80)
        assert not (encoded[2] == 0xFF and encoded[3] >= 0x80)


@given(
    st.lists(TEXT.filter(bool), min_size=1, max_size=5),
    st.lists(TEXT.filter(bool), max_size=5),
)
def test_read_ahead_filters_are_the_text_filters_encoded(
    names: list[str], anchors: list[str]
) -> None:
    """The read-ahead builds its filters as BER directly; they are the filters the text forms
    (escaped values) compile to, spaces around a value included: the escape keeps them."""
    layout = Layout.from_settings(LdapSettings(url="ldap://127.0.0.1", base_dn="dc=example,dc=org"))
    users: list[tuple[DesiredIdentity, str | None]] = [
        (DesiredIdentity(f"n{i}", 1, n), None) for i, n in enumerate(names)
    ]
    users += [(DesiredIdentity(f"a{i}", 1, f"a{i}"), a) for i, a in enumerate(anchors)]
    by_name, by_anchor = read_ahead_filters(layout, users)
    assert by_name == compile_filter(users_filter(layout, sorted(set(names))))
    expected = "(|" + "".join(eq("entryUUID", a) for a in sorted(set(anchors))) + ")"
    assert by_anchor == (compile_filter(expected) if anchors else None)
