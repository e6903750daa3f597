"""The one-match reading of ``attr eq "value"`` gives exactly the parser's tree, or steps aside."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inbound.errors import ScimError
from inbound.filter import _SIMPLE_EQ, _Parser, parse_filter

NAMES = st.sampled_from(
    ["userName", "externalId", "id", "displayName", "emails.value", "name.givenName", "x$_-y"]
)
VALUES = st.text(max_size=12)
SPACES = st.sampled_from(["", " ", "  ", "\t"])
OPS = st.sampled_from(["eq", "EQ", "Eq", "ne", "co"])


def _full(text: str) -> object:
    try:
        return _Parser(text).parse()
    except ScimError as exc:
        return ("error", exc.status, exc.scim_type)


def _fast_or_full(text: str) -> object:
    try:
        return parse_filter(text)
    except ScimError as exc:
        return ("error", exc.status, exc.scim_type)


@given(NAMES, OPS, VALUES, SPACES, SPACES)
def test_the_shortcut_agrees_with_the_parser(
    name: str, op: str, value: str, before: str, after: str
) -> None:
    quoted = '"' + value + '"'
    text = f"{before}{name} {op} {quoted}{after}"
    assert _fast_or_full(text) == _full(text)


@pytest.mark.parametrize(
    "text",
    [
        'userName eq "a\\"b"',  # an escape: the parser decodes it
        'userName eq "tab\there"',  # a control character: JSON refuses it, so must we
        'urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"',
        'emails[type eq "work"].value eq "x"',
        'userName eq "x" and active eq true',
    ],
)
def test_other_shapes_are_left_to_the_parser(text: str) -> None:
    assert _SIMPLE_EQ.fullmatch(text) is None
    assert _fast_or_full(text) == _full(text)
