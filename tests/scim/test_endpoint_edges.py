"""The mounted /Users and /Groups endpoints at their edges: query strings decoded as Entra and
RFC 3986 clients encode them, and requests they do not serve refused in the SCIM shape."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from litestar.testing import TestClient

from inbound.web.app import MAX_BODY_BYTES
from inbound.web.scim_endpoint import _params
from tests.scim.helpers import assert_error, create_user


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


def test_the_mounted_endpoints_refuse_what_they_do_not_serve(client: TestClient[Any]) -> None:
    user = create_user(client, "edge")
    too_big = b'{"userName": "' + b"x" * MAX_BODY_BYTES + b'"}'
    response = client.post(
        "/scim/v2/Users", content=too_big, headers={"Content-Type": "application/scim+json"}
    )
    assert_error(response, 413)
    wrong = client.request("POST", f"/scim/v2/Users/{user['id']}")
    assert_error(wrong, 405)
    assert wrong.headers["allow"] == "GET, PUT, PATCH, DELETE"
    assert client.request("PUT", "/scim/v2/Groups").headers["allow"] == "GET, POST"
    assert_error(client.get(f"/scim/v2/Users/{user['id']}/extra"), 404)
    assert_error(client.get("/scim/v2/Users/.search"), 405)
    empty = client.post("/scim/v2/Users", content=b"  ")
    assert_error(empty, 400, "invalidSyntax")
    assert_error(client.post("/scim/v2/Users", content=b"{nope"), 400, "invalidSyntax")


def test_direct_and_mounted_routes_answer_alike(client: TestClient[Any]) -> None:
    """Requests for the endpoints go straight to them; unusual spellings go through Litestar's
    mounts to the same endpoints, and names that only start like them are not theirs."""
    user = create_user(client, "routed")
    direct = client.get(f"/scim/v2/Users/{user['id']}")
    mounted = client.get(f"/scim/v2/Users//{user['id']}")
    assert direct.status_code == 200, direct.text
    assert mounted.status_code == direct.status_code
    assert client.get("/scim/v2/Users/").json()["totalResults"] == 1
    assert client.get("/scim/v2/Users").json()["totalResults"] == 1
    assert client.get("/scim/v2/UsersAndMore").status_code == 404
    listed = client.get("/metrics").text
    assert 'route="/scim/v2/Users/{scim_id}"' in listed  # logged and counted like the rest
