"""The SCIM endpoint at its edges: query strings decoded as Entra and RFC 3986 clients encode
them, unusual spellings of a path reaching its one route, requests it does not serve refused
in the SCIM shape, and every route failing the same way."""

from __future__ import annotations

import sqlite3
from typing import Any, cast
from urllib.parse import parse_qsl

import pytest
from litestar.testing import TestClient
from litestar.types import Scope

from inbound.schema import Catalog
from inbound.web.app import MAX_BODY_BYTES
from inbound.web.scim_endpoint import _params
from scheduler.composition import Runtime
from tests.support.scim_client import SCIM_JSON, assert_error, create_user


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
        scope = cast(Scope, {"query_string": query.encode()})  # the one key _params reads
        assert _params(scope) == expected, query


def test_the_endpoints_refuse_what_they_do_not_serve(client: TestClient[Any]) -> None:
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


def test_usual_and_unusual_spellings_answer_alike(client: TestClient[Any]) -> None:
    """Unusual spellings of a path reach the same route as the usual one, and names that only
    start like an endpoint's are not its."""
    user = create_user(client, "routed")
    usual = client.get(f"/scim/v2/Users/{user['id']}")
    doubled = client.get(f"/scim/v2/Users//{user['id']}")
    assert usual.status_code == 200, usual.text
    assert doubled.status_code == usual.status_code
    assert client.get("/scim/v2/Users/").json()["totalResults"] == 1
    assert client.get("/scim/v2/Users").json()["totalResults"] == 1
    assert client.get("/scim/v2/UsersAndMore").status_code == 404
    listed = client.get("/metrics").text
    assert 'route="/scim/v2/Users/{scim_id}"' in listed  # logged and counted like the rest


def test_each_endpoint_has_one_route_whatever_the_spelling(client: TestClient[Any]) -> None:
    """Letter case, doubled and trailing slashes are folded where the route is chosen; the log
    and metrics name the route as documented."""
    user = create_user(client, "spelled")
    assert client.get("/scim/v2/users").json()["totalResults"] == 1
    assert client.get(f"/scim/v2/USERS/{user['id']}/").json()["id"] == user["id"]
    search = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}
    for path in ("/scim/v2/users/.SEARCH", "/scim/v2//.search/"):
        found = client.post(path, json=search, headers=SCIM_JSON)
        assert found.json()["totalResults"] == 1, path
    assert client.get("/scim/v2/schemas/").json()["totalResults"] >= 3
    bulk = client.post("/scim/v2/bulk", json={"Operations": []}, headers=SCIM_JSON)
    assert_error(bulk, 400)  # refused by /Bulk itself, not a 404
    listed = client.get("/metrics").text
    assert 'method="GET",route="/scim/v2/Users",status="200"' in listed
    assert 'method="POST",route="/scim/v2/.search",status="200"' in listed
    assert 'method="GET",route="/scim/v2/Schemas",status="200"' in listed
    assert "/scim/v2/users" not in listed


def test_a_path_that_names_no_endpoint_says_which_there_are(client: TestClient[Any]) -> None:
    for path in ("/scim/v2", "/scim/v2/", "/scim/v2/Userz", "/scim/v2/Bulk/more"):
        detail = assert_error(client.get(path), 404)["detail"]
        assert path in detail, detail
    assert "/Users, /Groups" in assert_error(client.get("/scim/v2/Userz"), 404)["detail"]
    assert client.get("/scim/v2Users").status_code == 404  # not below /scim/v2 at all


@pytest.mark.parametrize(
    ("failure", "status"),
    [(sqlite3.OperationalError("unable to open database file"), 503), (ValueError("a bug"), 500)],
)
def test_every_route_fails_the_same_way(
    client: TestClient[Any],
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    failure: Exception,
    status: int,
) -> None:
    """A database outage (503, ``Retry-After``) or a crash (500, an incident id, no
    traceback) reads the same on a resource route, the root search and discovery."""

    def fail(*_args: Any, **_kwargs: Any) -> Any:
        raise failure

    monkeypatch.setattr(runtime.services.store, "search", fail)
    monkeypatch.setattr(Catalog, "schemas", fail)  # a frozen instance: patched on its class
    search = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}
    answers = [
        client.get('/scim/v2/Users?filter=userName eq "x"'),
        client.get("/scim/v2/Groups"),
        client.post("/scim/v2/.search", json=search, headers=SCIM_JSON),
        client.get("/scim/v2/Schemas"),
    ]
    for answer in answers:
        body = assert_error(answer, status)
        assert "Traceback" not in answer.text
        if status == 503:
            assert answer.headers["retry-after"] == "5"
            assert body["detail"].startswith("the staging database is unavailable")
        else:
            assert body["detail"].startswith("internal error (incident ")
