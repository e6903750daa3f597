"""Query strings reach the SCIM endpoints decoded as Entra and RFC 3986 clients encode them."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from tests.scim.helpers import create_user


def test_form_and_percent_encoded_filters_with_non_ascii_values(client: TestClient[Any]) -> None:
    user = create_user(client, "zoë.müller")
    for query in (
        "filter=userName+eq+%22zo%C3%AB.m%C3%BCller%22",  # Entra's form encoding
        "filter=userName%20eq%20%22zo%C3%AB.m%C3%BCller%22",
        "filter=userName%20eq%20%22zo%C3%AB.m%C3%BCller%22&filter=ignored",  # first one wins
        "FILTER=userName+eq+%22ZO%C3%8B.M%C3%9CLLER%22&aadOptscim062020",  # any case, a flag
    ):
        found = client.get(f"/scim/v2/Users?{query}").json()
        assert found["totalResults"] == 1, query
        assert found["Resources"][0]["id"] == user["id"]


def test_query_parsing_matches_the_standard_library() -> None:
    from urllib.parse import parse_qsl

    from inbound.web.scim_endpoint import _params

    for query in (
        "filter=userName+eq+%22a%2Bb%22&count=0",
        "a=1&a=2&&b=&c",
        "x%20y=%E2%82%AC&attributes=name.givenName,emails",
        "excludedAttributes=members&filter=displayName%20eq%20%22R%26D%22",
    ):
        expected: dict[str, str] = {}
        for name, value in parse_qsl(query, keep_blank_values=True):
            expected.setdefault(name, value)
        assert _params({"query_string": query.encode()}) == expected, query  # type: ignore[typeddict-item]
