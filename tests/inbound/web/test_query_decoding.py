"""The query string decoder of the SCIM endpoint reads what ``urllib.parse`` reads."""

from __future__ import annotations

from urllib.parse import quote_plus, unquote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inbound.web.scim_endpoint import form_decode

ESCAPE_HEAVY = st.text(alphabet=st.sampled_from(list('%+\\xX0123456789abcdefABCDEFgzé€ \n"')))


@pytest.mark.parametrize(
    "raw",
    [
        "userName%20eq%20%22bench1234%22",
        "a+b%C3%A9%20c",
        "%zz%4",
        "x%E2%82%AC%",
        "%C3",
        "%ff%fe",
        "a\\x41%41",
        "\\N{DASH}%41",
        "%5C%5Cx",
        "é%20ü",
        "\U0001f600%20",
        "plain",
        "",
    ],
)
def test_reads_escapes_as_unquote_plus_does(raw: str) -> None:
    assert form_decode(raw) == unquote_plus(raw)


@given(ESCAPE_HEAVY)
def test_any_text_decodes_as_unquote_plus_decodes_it(raw: str) -> None:
    assert form_decode(raw) == unquote_plus(raw)


@given(st.text())
def test_encoded_text_comes_back_whole(text: str) -> None:
    assert form_decode(quote_plus(text)) == text
