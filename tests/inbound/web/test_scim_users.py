"""SCIM /Users over the Litestar app, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient
from sqlalchemy import func, select

from inbound.database.tables import audit, resources
from scheduler.composition import Runtime
from tests.support import ENTERPRISE, PATCH, entra_user, patch_body
from tests.support.scim_client import SCIM_JSON, assert_error
from tests.support.scim_client import create_user as create


def test_entra_test_connection_gets_an_empty_list(client: TestClient[Any]) -> None:
    response = client.get(
        "/scim/v2/Users?filter=userName+eq+%22a1b2c3d4-0000-4e5f-9a8b-123456789abc%22&aadOptscim062020"
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/scim+json")
    assert response.json() == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 0,
        "itemsPerPage": 0,
        "startIndex": 1,
        "Resources": [],
    }


def test_create_returns_the_full_resource_with_id_and_version(client: TestClient[Any]) -> None:
    body = create(client, "E1001", active="True")
    assert body["id"]
    assert body["userName"] == "E1001"
    assert body["active"] is True
    assert body["emails"] == [{"primary": True, "type": "work", "value": "e1001@example.com"}]
    assert body[ENTERPRISE] == {"employeeNumber": "E1001", "department": "Research"}
    assert "roles" not in body  # an empty list is unassigned (RFC 7643 §2.5)
    assert body["meta"]["version"] == 'W/"1"'
    assert body["meta"]["location"].endswith(f"/scim/v2/Users/{body['id']}")
    fetched = client.get(f"/scim/v2/Users/{body['id']}")
    assert fetched.status_code == 200
    assert fetched.headers["etag"] == 'W/"1"'
    assert fetched.json()["name"] == body["name"]


def test_accepts_plain_json_and_nulls_for_unassigned_attributes(client: TestClient[Any]) -> None:
    response = client.post(
        "/scim/v2/Users",
        json=entra_user("E1", title=None, nickName=None),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 201
    assert "title" not in response.json()


def test_duplicate_user_name_is_a_409_case_insensitively(client: TestClient[Any]) -> None:
    create(client, "Alice")
    response = client.post("/scim/v2/Users", json=entra_user("ALICE"), headers=SCIM_JSON)
    body = assert_error(response, 409, "uniqueness")
    assert "ALICE" in body["detail"]


def test_missing_user_name_is_a_400(client: TestClient[Any], runtime: Runtime) -> None:
    payload = entra_user("x")
    del payload["userName"]
    assert_error(
        client.post("/scim/v2/Users", json=payload, headers=SCIM_JSON), 400, "invalidValue"
    )
    with runtime.database_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(resources)).scalar() == 0


def test_malformed_json_and_empty_bodies_are_400(client: TestClient[Any]) -> None:
    assert_error(
        client.post("/scim/v2/Users", content=b'{"userName": ', headers=SCIM_JSON),
        400,
        "invalidSyntax",
    )
    assert_error(
        client.post("/scim/v2/Users", content=b"", headers=SCIM_JSON), 400, "invalidSyntax"
    )
    assert_error(
        client.post("/scim/v2/Users", content=b"[1]", headers=SCIM_JSON), 400, "invalidSyntax"
    )
    user = create(client, "E2")
    assert_error(
        client.patch(f"/scim/v2/Users/{user['id']}", content=b"", headers=SCIM_JSON),
        400,
        "invalidSyntax",
    )


def test_wrong_types_are_400_with_the_attribute_named(client: TestClient[Any]) -> None:
    body = assert_error(
        client.post("/scim/v2/Users", json=entra_user("E3", active="maybe"), headers=SCIM_JSON),
        400,
        "invalidValue",
    )
    assert "active" in body["detail"]
    body = assert_error(
        client.post(
            "/scim/v2/Users", json=entra_user("E3", favouriteColour="red"), headers=SCIM_JSON
        ),
        400,
    )
    assert "favouriteColour" in body["detail"]


def test_unknown_id_is_404(client: TestClient[Any]) -> None:
    assert_error(client.get("/scim/v2/Users/does-not-exist"), 404)
    assert_error(client.delete("/scim/v2/Users/does-not-exist"), 404)
    assert_error(
        client.patch(
            "/scim/v2/Users/does-not-exist",
            json=patch_body({"op": "replace", "path": "active", "value": False}),
        ),
        404,
    )


def test_missing_or_wrong_token_is_401(client: TestClient[Any], admin_key: str) -> None:
    for header in (None, "Bearer nope", "Basic abc", f"Bearer {admin_key}"):
        headers = {"Authorization": header} if header else {}
        client.headers.pop("Authorization", None) if header is None else None
        response = client.get("/scim/v2/Users", headers=headers)
        assert_error(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_filters_on_the_attributes_entra_uses(client: TestClient[Any]) -> None:
    alice = create(client, "alice", externalId="a-ext", displayName="Alice A")
    create(client, "bob", externalId="b-ext", displayName="Bob B")
    cases = {
        'userName eq "ALICE"': [alice["id"]],
        'externalId eq "a-ext"': [alice["id"]],
        'externalId eq "A-EXT"': [],  # externalId is caseExact
        'displayName eq "alice a"': [alice["id"]],
        f'id eq "{alice["id"]}"': [alice["id"]],
        'emails[type eq "work"].value eq "alice@example.com"': [alice["id"]],
        'userName eq "alice" and externalId eq "a-ext"': [alice["id"]],
        'userName eq "alice" and externalId eq "b-ext"': [],
        f'{ENTERPRISE}:employeeNumber eq "alice"': [alice["id"]],
    }
    for expression, expected in cases.items():
        response = client.get("/scim/v2/Users", params={"filter": expression})
        assert response.status_code == 200, (expression, response.text)
        assert [r["id"] for r in response.json()["Resources"]] == expected, expression
        assert response.json()["totalResults"] == len(expected)


def test_bad_filters_are_400_invalid_filter(client: TestClient[Any]) -> None:
    for expression in (
        "userName eq",
        'userName zz "x"',
        '(userName eq "x"',
        'nosuch eq "x"',
        "active gt true",
    ):
        body = assert_error(
            client.get("/scim/v2/Users", params={"filter": expression}), 400, "invalidFilter"
        )
        assert body["detail"], expression


def test_pages_do_not_overlap(client: TestClient[Any]) -> None:
    ids = {create(client, f"u{i:02d}")["id"] for i in range(7)}
    seen: list[str] = []
    for start in (1, 4, 7):
        page = client.get("/scim/v2/Users", params={"startIndex": start, "count": 3}).json()
        assert page["totalResults"] == 7
        assert page["startIndex"] == start
        assert page["itemsPerPage"] == len(page["Resources"])
        seen += [r["id"] for r in page["Resources"]]
    assert len(seen) == 7 and set(seen) == ids
    only_total = client.get("/scim/v2/Users", params={"count": 0}).json()
    assert only_total["totalResults"] == 7 and only_total["Resources"] == []
    assert_error(client.get("/scim/v2/Users", params={"count": "many"}), 400, "invalidValue")


def test_entra_patch_dialect_on_users(client: TestClient[Any]) -> None:
    manager = create(client, "boss")
    user = create(client, "E5")
    response = client.patch(
        f"/scim/v2/Users/{user['id']}",
        json={
            "Operations": [
                {"op": "Replace", "path": "active", "value": "False"},
                {
                    "op": "replace",
                    "value": {
                        "displayName": "New Name",
                        "name.givenName": "Newgiven",
                        f"{ENTERPRISE}:employeeNumber": "777",
                    },
                },
                {
                    "op": "Add",
                    "path": 'addresses[type eq "work"].streetAddress',
                    "value": "1 Main St",
                },
                {"op": "Add", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+1 555"},
                {
                    "op": "Replace",
                    "path": 'emails[type eq "work"].value',
                    "value": "new@example.com",
                },
                {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": manager["id"]},
                {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": ""},
                {"op": "Add", "path": "title", "value": "Lead"},
            ],
            "schemas": [PATCH],
        },
        headers=SCIM_JSON,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["active"] is False
    assert body["displayName"] == "New Name"
    assert body["name"] == {
        "formatted": "Given E5",
        "familyName": "Family",
        "givenName": "Newgiven",
    }
    assert "name.givenName" not in body
    assert body["addresses"] == [{"type": "work", "streetAddress": "1 Main St"}]
    assert body["phoneNumbers"] == [{"type": "mobile", "value": "+1 555"}]
    assert body["emails"][0]["value"] == "new@example.com"
    assert body[ENTERPRISE]["employeeNumber"] == "777"
    assert body[ENTERPRISE]["manager"]["value"] == manager["id"]
    assert "department" not in body[ENTERPRISE]
    assert body["title"] == "Lead"
    assert body["meta"]["version"] == 'W/"2"'
    cleared = client.patch(
        f"/scim/v2/Users/{user['id']}",
        json=patch_body({"op": "Replace", "path": f"{ENTERPRISE}:manager", "value": None}),
    ).json()
    assert "manager" not in cleared[ENTERPRISE]


def test_a_failing_patch_changes_nothing(client: TestClient[Any], runtime: Runtime) -> None:
    user = create(client, "E6")
    response = client.patch(
        f"/scim/v2/Users/{user['id']}",
        json=patch_body(
            {"op": "replace", "path": "displayName", "value": "changed"},
            {"op": "explode", "path": "title", "value": "x"},
        ),
    )
    assert_error(response, 400, "invalidSyntax")
    after = client.get(f"/scim/v2/Users/{user['id']}").json()
    assert after["displayName"] == user["displayName"]
    assert after["meta"]["version"] == 'W/"1"'
    for bad in (
        {"op": "remove"},
        {"op": "replace", "path": "nosuch", "value": 1},
        {"op": "replace", "path": "id", "value": "x"},
        {"op": "replace", "path": "active", "value": "perhaps"},
        {"op": "replace", "path": "emails[type eq", "value": "x"},
    ):
        response = client.patch(f"/scim/v2/Users/{user['id']}", json=patch_body(bad))
        assert response.status_code == 400, (bad, response.text)
        assert response.json()["scimType"]


def test_every_write_bumps_generation_and_appends_audit(
    client: TestClient[Any], runtime: Runtime
) -> None:
    user = create(client, "E7")
    client.patch(
        f"/scim/v2/Users/{user['id']}",
        json=patch_body({"op": "replace", "path": "title", "value": "A"}),
    )
    client.patch(
        f"/scim/v2/Users/{user['id']}",
        json=patch_body({"op": "replace", "path": "title", "value": "A"}),
    )
    assert client.delete(f"/scim/v2/Users/{user['id']}").status_code == 204
    with runtime.database_engine.connect() as conn:
        events = conn.execute(
            select(audit.c.operation, audit.c.generation)
            .where(audit.c.scim_id == user["id"])
            .order_by(audit.c.id)
        ).all()
    # the second PATCH changed nothing, so it neither bumped the generation nor was audited
    assert [tuple(e) for e in events] == [("create", 1), ("patch", 2), ("delete", 3)]


def test_deleted_user_is_gone_and_its_name_reusable(client: TestClient[Any]) -> None:
    user = create(client, "E8")
    assert client.delete(f"/scim/v2/Users/{user['id']}").status_code == 204
    assert_error(client.get(f"/scim/v2/Users/{user['id']}"), 404)
    assert (
        client.get("/scim/v2/Users", params={"filter": 'userName eq "E8"'}).json()["totalResults"]
        == 0
    )
    again = create(client, "E8")
    assert again["id"] != user["id"]


def test_disabled_users_are_still_found(client: TestClient[Any]) -> None:
    user = create(client, "E9", active=False)
    assert client.get(f"/scim/v2/Users/{user['id']}").json()["active"] is False
    found = client.get("/scim/v2/Users", params={"filter": 'userName eq "E9"'}).json()
    assert found["totalResults"] == 1


def test_discovery_endpoints(client: TestClient[Any]) -> None:
    config = client.get("/scim/v2/ServiceProviderConfig").json()
    assert config["patch"]["supported"] is True
    assert config["filter"]["supported"] is True
    types = client.get("/scim/v2/ResourceTypes").json()
    assert {r["endpoint"] for r in types["Resources"]} == {"/Users", "/Groups"}
    schemas = client.get("/scim/v2/Schemas").json()
    ids = {s["id"] for s in schemas["Resources"]}
    assert ids == {
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:core:2.0:Group",
        ENTERPRISE,
        "urn:scim-sync:schemas:extension:sync:1.0:Sync",
    }
    user_schema = client.get("/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User").json()
    assert any(
        a["name"] == "userName" and a["uniqueness"] == "server" for a in user_schema["attributes"]
    )


def test_unknown_route_and_method_answer_in_scim_shape(client: TestClient[Any]) -> None:
    assert_error(client.get("/scim/v2/Nothing"), 404)
    response = client.put("/scim/v2/Users")
    assert_error(response, 405)
    assert "allow" in response.headers


def test_filters_follow_a_patch_that_changes_adds_and_removes_values(
    client: TestClient[Any],
) -> None:
    """The attribute index is rewritten in place: a changed value is found by its new value
    only, a removed one no longer, an added one at once."""
    user = create(client, "indexed", title="Engineer")
    body = patch_body(
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "new@example.com"},
        {"op": "Remove", "path": "title"},
        {"op": "Add", "path": "nickName", "value": "Indy"},
    )
    response = client.patch(f"/scim/v2/Users/{user['id']}", json=body, headers=SCIM_JSON)
    assert response.status_code == 200, response.text

    def found(query: str) -> int:
        return int(client.get("/scim/v2/Users", params={"filter": query}).json()["totalResults"])

    assert found('emails.value eq "new@example.com"') == 1
    assert found('emails.value eq "indexed@example.com"') == 0
    assert found("title pr") == 0
    assert found('nickName eq "indy"') == 1
    assert found('emails[type eq "work" and value co "new@"]') == 1
