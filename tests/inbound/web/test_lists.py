"""Listing: sortBy/sortOrder, paging, attributes, POST /.search on a type and at the root."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from tests.support.scim_client import SCIM_JSON, assert_error, create_group, create_user

SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def names(body: dict[str, Any]) -> list[str]:
    return [r["userName"] for r in body["Resources"]]


def test_sort_by_user_name_both_ways_and_by_a_sub_attribute(client: TestClient[Any]) -> None:
    for name, title in (("carol", "b"), ("Alice", "c"), ("bob", None)):
        create_user(client, name, title=title)
    asc = client.get("/scim/v2/Users", params={"sortBy": "userName"}).json()
    assert names(asc) == ["Alice", "bob", "carol"]  # case-insensitive: userName is not caseExact
    desc = client.get(
        "/scim/v2/Users", params={"sortBy": "userName", "sortOrder": "descending"}
    ).json()
    assert names(desc) == ["carol", "bob", "Alice"]
    by_title = client.get("/scim/v2/Users", params={"sortBy": "title"}).json()
    assert names(by_title) == ["carol", "Alice", "bob"]  # no value sorts last ascending
    by_title_desc = client.get(
        "/scim/v2/Users", params={"sortBy": "title", "sortOrder": "descending"}
    ).json()
    assert names(by_title_desc) == ["bob", "Alice", "carol"]


def test_sort_by_a_multi_valued_attribute_uses_the_primary_value(client: TestClient[Any]) -> None:
    create_user(
        client,
        "one",
        emails=[
            {"value": "a@x", "type": "home"},
            {"value": "z@x", "type": "work", "primary": True},
        ],
    )
    create_user(client, "two", emails=[{"value": "m@x", "type": "work"}])
    body = client.get("/scim/v2/Users", params={"sortBy": "emails.value"}).json()
    assert names(body) == ["two", "one"]


def test_bad_sort_parameters_are_400(client: TestClient[Any]) -> None:
    assert_error(client.get("/scim/v2/Users?sortBy=nope"), 400, "invalidValue")
    assert_error(client.get("/scim/v2/Users?sortBy=name"), 400, "invalidValue")
    assert_error(client.get("/scim/v2/Users?sortBy=userName&sortOrder=up"), 400, "invalidValue")


def test_paging_count_zero_and_bounds(client: TestClient[Any]) -> None:
    for i in range(5):
        create_user(client, f"u{i}")
    zero = client.get("/scim/v2/Users?count=0").json()
    assert zero["totalResults"] == 5 and zero["itemsPerPage"] == 0 and zero["Resources"] == []
    page = client.get("/scim/v2/Users?startIndex=4&count=10&sortBy=userName").json()
    assert names(page) == ["u3", "u4"] and page["startIndex"] == 4
    below = client.get("/scim/v2/Users?startIndex=-3&count=-1").json()
    assert below["startIndex"] == 1 and below["Resources"] == []
    past = client.get("/scim/v2/Users?startIndex=99").json()
    assert past["totalResults"] == 5 and past["Resources"] == []
    assert_error(client.get("/scim/v2/Users?count=ten"), 400, "invalidValue")


def test_post_search_on_a_type(client: TestClient[Any]) -> None:
    create_user(client, "alpha")
    create_user(client, "beta")
    body = {
        "schemas": [SEARCH],
        "filter": 'userName sw "a"',
        "attributes": ["userName"],
        "sortBy": "userName",
    }
    found = client.post("/scim/v2/Users/.search", json=body, headers=SCIM_JSON)
    assert found.status_code == 200
    resources = found.json()["Resources"]
    assert resources == [
        {"schemas": resources[0]["schemas"], "id": resources[0]["id"], "userName": "alpha"}
    ]
    assert_error(
        client.post("/scim/v2/Users/.search", json={"filtre": "x"}, headers=SCIM_JSON),
        400,
        "invalidSyntax",
    )
    assert_error(
        client.post("/scim/v2/Users/.search", json={"count": "2"}, headers=SCIM_JSON),
        400,
        "invalidValue",
    )


def test_root_search_spans_users_and_groups(client: TestClient[Any]) -> None:
    create_user(client, "Ops-person", displayName="Ops person")
    create_group(client, "Ops")
    create_group(client, "Dev")
    body = {"schemas": [SEARCH], "filter": 'displayName sw "ops"'}
    found = client.post("/scim/v2/.search", json=body, headers=SCIM_JSON).json()
    kinds = sorted(r["meta"]["resourceType"] for r in found["Resources"])
    assert found["totalResults"] == 2 and kinds == ["Group", "User"]
    # userName exists only on users: groups contribute nothing rather than failing
    only_users = client.post(
        "/scim/v2/.search", json={"filter": 'userName eq "ops-person"'}, headers=SCIM_JSON
    ).json()
    assert only_users["totalResults"] == 1
    paged = client.post("/scim/v2/.search", json={"startIndex": 2, "count": 1}, headers=SCIM_JSON)
    assert paged.json()["totalResults"] == 3 and len(paged.json()["Resources"]) == 1
    assert_error(
        client.post("/scim/v2/.search", json={"filter": "nothing eq 1"}, headers=SCIM_JSON),
        400,
        "invalidFilter",
    )


def test_filter_grammar_on_sql(client: TestClient[Any]) -> None:
    create_user(
        client,
        "ann",
        title="Engineer",
        active=True,
        emails=[{"value": "ann@x.org", "type": "work"}, {"value": "a@home", "type": "home"}],
    )
    create_user(
        client,
        "ben",
        title="Manager",
        active="False",
        emails=[{"value": "ben@y.org", "type": "work"}],
    )
    create_user(client, "cy_%", title=None)

    def match(text: str) -> list[str]:
        response = client.get("/scim/v2/Users", params={"filter": text, "sortBy": "userName"})
        assert response.status_code == 200, response.text
        return names(response.json())

    assert match('title eq "engineer"') == ["ann"]
    assert match("active eq false") == ["ben"]
    assert match('not (title eq "Engineer")') == ["ben", "cy_%"]
    assert match("title pr and not (active eq false)") == ["ann"]
    assert match('emails[type eq "work" and value co "@x."]') == ["ann"]
    assert match('emails[type eq "home"].value ew "@home"') == ["ann"]
    assert match('userName sw "cy_"') == ["cy_%"]  # LIKE wildcards are literal
    assert match('userName co "%"') == ["cy_%"]
    assert match("title eq null") == ["cy_%"]
    assert match('userName gt "ann" and userName lt "cy"') == ["ben"]
    assert match('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "BEN"') == ["ben"]
    assert match(
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "research"'
    ) == ["ann", "ben", "cy_%"]
    assert match('meta.created ge "2000-01-01T00:00:00Z"') == ["ann", "ben", "cy_%"]
    assert match('title eq "Engineer" or title eq "Manager" and userName eq "x"') == ["ann"]
    assert_error(
        client.get("/scim/v2/Users", params={"filter": "shoeSize gt 3"}), 400, "invalidFilter"
    )


def test_attributes_and_excluded_attributes(client: TestClient[Any]) -> None:
    user = create_user(client, "proj")
    got = client.get(f"/scim/v2/Users/{user['id']}", params={"attributes": "name.givenName"}).json()
    assert set(got) == {"schemas", "id", "userName", "name"} and got["name"] == {
        "givenName": "Given"
    }
    without = client.get(
        f"/scim/v2/Users/{user['id']}", params={"excludedAttributes": "emails,name"}
    ).json()
    assert "emails" not in without and "name" not in without and without["userName"] == "proj"
    assert_error(client.get(f"/scim/v2/Users/{user['id']}?attributes=nope"), 400, "invalidValue")
