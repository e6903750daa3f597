"""Talking SCIM to the app through a test client: create resources, check error shapes."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from inbound.auth import SecretKind
from inbound.web.app import create_app
from scheduler.composition import Runtime
from tests.support.bodies import entra_group, entra_user

SCIM_JSON = {"Content-Type": "application/scim+json; charset=utf-8"}


def create_user(client: TestClient[Any], user_name: str, **overrides: Any) -> dict[str, Any]:
    response = client.post(
        "/scim/v2/Users", json=entra_user(user_name, **overrides), headers=SCIM_JSON
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def create_group(client: TestClient[Any], name: str) -> dict[str, Any]:
    response = client.post("/scim/v2/Groups", json=entra_group(name), headers=SCIM_JSON)
    assert response.status_code == 201, response.text
    return dict(response.json())


def new_group(client: TestClient[Any], name: str) -> dict[str, Any]:
    """A group created with a plain JSON body (no SCIM content type), as some clients send it."""
    response = client.post("/scim/v2/Groups", json=entra_group(name))
    assert response.status_code == 201, response.text
    return dict(response.json())


def scim_client(runtime: Runtime) -> TestClient[Any]:
    token = runtime.tokens.issue(SecretKind.SCIM, runtime.settings.token_ttl).secret
    client = TestClient(create_app(runtime.services), base_url="http://scim.test")
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def assert_error(response: Any, status: int, scim_type: str | None = None) -> dict[str, Any]:
    """A SCIM error (RFC 7644 §3.12) with the status, scimType and a detail to act on."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    body = response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == str(status)
    assert body["detail"]
    if scim_type:
        assert body.get("scimType") == scim_type, body
    return dict(body)
