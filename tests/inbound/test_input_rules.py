"""The boundary's rules on their own: name keys, the name policy, bodies' depth and controls."""

from __future__ import annotations

import pytest

from inbound.errors import ScimError
from inbound.input_rules import MAX_JSON_DEPTH, check_body, check_name, name_key
from inbound.web.responses import decode_json


@pytest.mark.parametrize(
    "name",
    [
        "alice",
        "Alice",
        "alice ",
        " alice",
        "ALICE\u00a0",
        "\uff41\uff4c\uff49\uff43\uff45",
        "alice\t",
    ],
)
def test_lookalikes_share_one_key(name: str) -> None:
    assert name_key(name) == "alice"


def test_spacing_inside_folds_to_one_space() -> None:
    assert name_key("al  ice") == name_key("AL\u3000ICE") == "al ice" != name_key("alice")
    assert name_key("Stra\u00dfe") == name_key("STRASSE")


@pytest.mark.parametrize(
    ("name", "position", "code"),
    [("a\u200bb", 2, "U+200B"), ("\u2029x", 1, "U+2029"), ("ab\u0000", 3, "U+0000")],
)
def test_names_refuse_invisible_characters_by_position(name: str, position: int, code: str) -> None:
    with pytest.raises(ScimError) as caught:
        check_name(name, "userName")
    assert caught.value.scim_type == "invalidValue"
    assert f"position {position}" in caught.value.detail and code in caught.value.detail


def test_ordinary_names_pass() -> None:
    for name in ("Zoë Müller", "o'brien", "李小龍", "a b", "x" * 512):
        check_name(name, "userName")


def test_a_body_100k_deep_is_a_syntax_error() -> None:
    for raw in (b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 5000 + b"1" + b"}" * 5000):
        with pytest.raises(ScimError) as caught:
            decode_json(raw)
        assert caught.value.scim_type == "invalidSyntax"
        assert str(MAX_JSON_DEPTH) in caught.value.detail


def test_depth_at_the_limit_is_accepted() -> None:
    body: object = "x"
    for _ in range(MAX_JSON_DEPTH):
        body = [body]
    check_body(body)
    with pytest.raises(ScimError):
        check_body([body])


def test_control_characters_are_named_with_their_place() -> None:
    with pytest.raises(ScimError) as caught:
        decode_json(b'{"Operations": [{"value": {"title": "ab\\u0000"}}]}')
    assert "Operations[0].value.title" in caught.value.detail
    assert "position 3" in caught.value.detail
    with pytest.raises(ScimError):
        decode_json('{"t": "\u0085"}'.encode())
    assert decode_json(b'{"t": "line\\nbreak", "\\u00e9": 1}') == {"t": "line\nbreak", "é": 1}
