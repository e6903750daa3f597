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
