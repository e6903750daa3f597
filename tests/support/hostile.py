"""Hypothesis strategies for hostile SCIM requests: deep nesting, long strings, NUL and other
control characters, lookalike names, huge numbers, in every place a client can put them.
Whatever they generate, the receiver must answer with a SCIM error or success, never a 5xx."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass(frozen=True)
class HostileRequest:
    method: str
    path: str
    body: bytes | None = None
    params: dict[str, str] | None = None

    def __repr__(self) -> str:  # hypothesis prints the failing example: keep it readable
        shown = (self.body or b"")[:200]
        return f"{self.method} {self.path} params={self.params!r} body={shown!r}"


_controls = st.sampled_from(["\u0000", "\u0007", "\u001f", "\u007f", "\u0085", "\u200b", "\u2028"])
strings = st.one_of(
    st.text(max_size=30),
    st.text(min_size=500, max_size=700),
    st.builds(lambda a, c, b: a + c + b, st.text(max_size=10), _controls, st.text(max_size=10)),
    st.sampled_from(["alice ", " alice", "\uff41lice", "al  ice", "ALICE\u00a0", "x" * 4097]),
)
huge_numbers = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([2**63, -(2**63) - 1, 10**308, 2**31]),
    st.floats(allow_nan=False, allow_infinity=False),
)
leaves = st.one_of(strings, huge_numbers, st.booleans(), st.none())
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


def _nested(depth: int, leaf: Any) -> Any:
    for _ in range(depth):
        leaf = [leaf]
    return leaf


deep_values = st.builds(_nested, st.integers(min_value=20, max_value=500), leaves)
"""Nested within what json.dumps can encode; far deeper bodies come as raw bytes (_raw_deep)."""
any_value = st.one_of(values, deep_values)


def _encode(body: Any) -> bytes:
    return json.dumps(body, allow_nan=True).encode()


def _raw_deep(depth: int) -> bytes:
    return b'{"userName": "deep", "title": ' + b"[" * depth + b"]" * depth + b"}"


@st.composite
def user_bodies(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "schemas": [USER],
        "userName": draw(strings),
        "title": draw(any_value),
        "name": {"givenName": draw(any_value)},
        "externalId": draw(any_value),
    }


@st.composite
def filters(draw: st.DrawFn) -> str:
    shape = draw(st.integers(0, 4))
    if shape == 0:
        return f"userName eq {json.dumps(draw(strings))}"
    if shape == 1:
        return " and ".join(['title eq "x"'] * draw(st.integers(1, 1600)))
    if shape == 2:
        depth = draw(st.integers(1, 5000))
        return "(" * depth + "title pr" + ")" * depth
    if shape == 3:
        return f"title gt {draw(huge_numbers)}"
    return draw(strings)


numbers_text = st.one_of(huge_numbers.map(str), st.sampled_from(["9" * 5000, "\u00b2", "-0"]))


@st.composite
def requests(draw: st.DrawFn, user_id: str) -> HostileRequest:
    """One request against ``/Users`` or the existing user ``user_id``."""
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return HostileRequest("POST", "/scim/v2/Users", _encode(draw(user_bodies())))
    if kind == 1:
        return HostileRequest("POST", "/scim/v2/Users", _raw_deep(draw(st.integers(100, 200_000))))
    if kind == 2:
        path = draw(st.one_of(st.sampled_from(["userName", "title", "emails", "active"]), strings))
        operation = {"op": "replace", "path": path, "value": draw(any_value)}
        body = {"schemas": [PATCH], "Operations": [operation]}
        return HostileRequest("PATCH", f"/scim/v2/Users/{user_id}", _encode(body))
    if kind == 3:
        search = {
            "schemas": [SEARCH],
            "filter": draw(filters()),
            "startIndex": draw(huge_numbers),
            "count": draw(huge_numbers),
        }
        return HostileRequest("POST", "/scim/v2/Users/.search", _encode(search))
    if kind == 4:
        params = {
            "filter": draw(filters()),
            "startIndex": draw(numbers_text),
            "count": draw(numbers_text),
            "attributes": draw(strings),
        }
        return HostileRequest("GET", "/scim/v2/Users", params=params)
    return HostileRequest("GET", "/scim/v2/Users/" + quote(draw(strings), safe=""))
