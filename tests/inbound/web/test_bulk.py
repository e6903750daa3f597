"""/Bulk (RFC 7644 §3.7): bulkId references, failOnErrors, limits."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from tests.support import GROUP, PATCH, USER
from tests.support.scim_client import SCIM_JSON, assert_error, create_user

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


def bulk(client: TestClient[Any], *operations: dict[str, Any], **extra: Any) -> Any:
    body = {"schemas": [BULK], "Operations": list(operations), **extra}
    return client.post("/scim/v2/Bulk", json=body, headers=SCIM_JSON)


def test_bulk_creates_with_references_in_any_order(client: TestClient[Any]) -> None:
    response = bulk(
        client,
        {  # refers to a user created by a later operation
            "method": "POST",
            "path": "/Groups",
            "bulkId": "g1",
            "data": {
                "schemas": [GROUP],
                "displayName": "Bulk group",
                "members": [{"value": "bulkId:u1"}],
            },
        },
        {
            "method": "POST",
            "path": "/Users",
            "bulkId": "u1",
            "data": {"schemas": [USER], "userName": "bulk-user"},
        },
        {
            "method": "PATCH",
            "path": "/Users/bulkId:u1",
            "data": {
                "schemas": [PATCH],
                "Operations": [{"op": "replace", "path": "title", "value": "Bulked"}],
            },
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:BulkResponse"]
    statuses = {(op["method"], op.get("bulkId")): op["status"] for op in body["Operations"]}
    assert statuses == {("POST", "g1"): "201", ("POST", "u1"): "201", ("PATCH", None): "200"}
    user_op = next(op for op in body["Operations"] if op.get("bulkId") == "u1")
    user_id = user_op["location"].rsplit("/", 1)[1]
    assert user_op["version"] == 'W/"1"'
    user = client.get(f"/scim/v2/Users/{user_id}").json()
    assert user["title"] == "Bulked" and user["groups"][0]["display"] == "Bulk group"


def test_fail_on_errors_stops_and_each_operation_reports(client: TestClient[Any]) -> None:
    create_user(client, "taken")
    response = bulk(
        client,
        {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "taken"}},
        {"method": "DELETE", "path": "/Users/no-such-id"},
        {"method": "POST", "path": "/Users", "bulkId": "c", "data": {"userName": "never"}},
        failOnErrors=2,
    )
    ops = response.json()["Operations"]
    assert [op["status"] for op in ops] == ["409", "404"]
    assert ops[0]["response"]["scimType"] == "uniqueness"
    assert client.get('/scim/v2/Users?filter=userName eq "never"').json()["totalResults"] == 0


def test_unresolvable_bulk_ids_are_409(client: TestClient[Any]) -> None:
    response = bulk(
        client,
        {
            "method": "POST",
            "path": "/Users",
            "bulkId": "x",
            "data": {"userName": "x", "externalId": "bulkId:y"},
        },
        {
            "method": "POST",
            "path": "/Users",
            "bulkId": "y",
            "data": {"userName": "y", "externalId": "bulkId:x"},
        },
        {"method": "PATCH", "path": "/Users/bulkId:nobody", "data": {"Operations": []}},
    )
    ops = response.json()["Operations"]
    assert [op["status"] for op in ops] == ["409", "409", "409"]
    assert "circular" in ops[0]["response"]["detail"]


def test_bulk_request_errors(client: TestClient[Any]) -> None:
    assert_error(
        client.post("/scim/v2/Bulk", json={"Operations": []}, headers=SCIM_JSON),
        400,
        "invalidSyntax",
    )
    assert_error(bulk(client, {"method": "GET", "path": "/Users"}), 400, "invalidSyntax")
    assert_error(
        bulk(client, {"method": "POST", "path": "/Users", "data": {}}), 400, "invalidSyntax"
    )
    too_many = [{"method": "DELETE", "path": f"/Users/{i}"} for i in range(1001)]
    assert bulk(client, *too_many).status_code == 413
    config = client.get("/scim/v2/ServiceProviderConfig").json()
    assert config["bulk"] == {"supported": True, "maxOperations": 1000, "maxPayloadSize": 1048576}
    assert config["sort"] == {"supported": True}
