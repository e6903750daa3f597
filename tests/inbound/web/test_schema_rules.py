"""Schema rules: returned (never/request), immutable, extension-URN PATCH paths, custom
extension schemas from configuration, ETags."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from inbound.auth import SecretKind
from inbound.extensions import ExtensionSchemaError, catalog_from_json
from inbound.web.app import create_app
from scheduler.composition import Runtime, compose
from scheduler.settings import Settings, SettingsError
from tests.support import ENTERPRISE, USER, FakeClock, patch_body
from tests.support.scim_client import SCIM_JSON, assert_error, create_group, create_user

BADGE = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
EXTENSIONS = {
    "User": [
        {
            "id": BADGE,
            "name": "AcmeUser",
            "attributes": [
                {"name": "badgeNumber", "type": "string", "caseExact": True},
                {"name": "hired", "type": "dateTime"},
                {"name": "contractor", "type": "boolean"},
                {"name": "vault", "type": "string", "mutability": "immutable"},
                {"name": "pin", "type": "string", "returned": "request"},
            ],
        }
    ]
}


def test_password_is_accepted_never_stored_never_returned(client: TestClient[Any]) -> None:
    user = create_user(client, "pw", password="s3cret!")
    assert "password" not in user
    patched = client.patch(
        f"/scim/v2/Users/{user['id']}",
        json=patch_body({"op": "replace", "path": "password", "value": "other"}),
        headers=SCIM_JSON,
    )
    assert patched.status_code == 200 and "password" not in patched.json()


def test_a_patch_path_naming_the_whole_extension(client: TestClient[Any]) -> None:
    user = create_user(client, "ext")
    replaced = client.patch(
        f"/scim/v2/Users/{user['id']}",
        json=patch_body(
            {
                "op": "replace",
                "path": ENTERPRISE,
                "value": {"schemas": [ENTERPRISE], "division": "D"},
            }
        ),
        headers=SCIM_JSON,
    ).json()
    assert replaced[ENTERPRISE] == {
        "employeeNumber": "ext",
        "department": "Research",
        "division": "D",
    }
    removed = client.patch(
        f"/scim/v2/Users/{user['id']}",
        json=patch_body({"op": "remove", "path": ENTERPRISE}),
        headers=SCIM_JSON,
    ).json()
    assert ENTERPRISE not in removed and ENTERPRISE not in removed["schemas"]


def test_group_patch_returns_the_group_unless_it_is_large(
    client: TestClient[Any], runtime: Runtime
) -> None:
    members = [create_user(client, f"gm{i}")["id"] for i in range(3)]
    group = create_group(client, "Quiet")
    url = f"/scim/v2/Groups/{group['id']}"
    add = patch_body({"op": "add", "path": "members", "value": [{"value": m} for m in members]})
    small = client.patch(url, json=add, headers=SCIM_JSON)
    assert small.status_code == 200 and small.headers["etag"] == 'W/"2"'
    assert {m["value"] for m in small.json()["members"]} == set(members)

    runtime.services.group_patch_body_max_members = 2  # three members: above the limit
    body = patch_body({"op": "replace", "path": "displayName", "value": "Quieter"})
    large = client.patch(url, json=body, headers=SCIM_JSON)
    assert large.status_code == 204 and large.headers["etag"] == 'W/"3"' and not large.content
    body = patch_body({"op": "replace", "path": "displayName", "value": "Loud"})
    asked = client.patch(f"{url}?excludedAttributes=members", json=body, headers=SCIM_JSON)
    assert asked.status_code == 200 and asked.json()["displayName"] == "Loud"
    assert "members" not in asked.json()

    runtime.services.group_patch_body_max_members = 3  # exactly at the limit: still rendered
    body = patch_body({"op": "replace", "path": "displayName", "value": "Calm"})
    assert client.patch(url, json=body, headers=SCIM_JSON).status_code == 200


def test_etags_if_match_and_if_none_match(client: TestClient[Any]) -> None:
    user = create_user(client, "tagged")
    url = f"/scim/v2/Users/{user['id']}"
    assert client.get(url, headers={"If-None-Match": 'W/"1"'}).status_code == 304
    assert client.get(url, headers={"If-None-Match": 'W/"9"'}).status_code == 200
    stale = client.patch(
        url,
        json=patch_body({"op": "replace", "path": "title", "value": "x"}),
        headers={**SCIM_JSON, "If-Match": 'W/"9"'},
    )
    assert_error(stale, 412, "invalidVers")
    fresh = client.put(
        url,
        json={"schemas": [USER], "userName": "tagged"},
        headers={**SCIM_JSON, "If-Match": 'W/"1"'},
    )
    assert fresh.status_code == 200 and fresh.headers["etag"] == 'W/"2"'


@pytest.fixture
def extended(database_url: str, clock: FakeClock, tmp_path: Path) -> Iterator[TestClient[Any]]:
    path = tmp_path / "extensions.json"
    path.write_text(json.dumps(EXTENSIONS))
    runtime = compose(
        Settings(database_url=database_url, scim_extension_schemas=str(path)),
        public_url="http://scim.test",
        clock=clock,
    )
    token = runtime.tokens.issue(SecretKind.SCIM, runtime.settings.token_ttl).secret
    try:
        with TestClient(create_app(runtime.services), base_url="http://scim.test") as client:
            client.headers["Authorization"] = f"Bearer {token}"
            yield client
    finally:
        runtime.dispose()


def test_custom_extension_is_served_validated_filtered_and_patched(
    extended: TestClient[Any],
) -> None:
    schemas = extended.get("/scim/v2/Schemas").json()["Resources"]
    assert BADGE in [s["id"] for s in schemas]
    user_type = extended.get("/scim/v2/ResourceTypes/User").json()
    assert {"schema": BADGE, "required": False} in user_type["schemaExtensions"]
    user = create_user(
        extended,
        "acme1",
        schemas=[USER, BADGE],
        **{BADGE: {"badgeNumber": "B-7", "contractor": "True", "vault": "v1", "pin": "1234"}},
    )
    assert user[BADGE] == {"badgeNumber": "B-7", "contractor": True, "vault": "v1"}
    asked = extended.get(
        f"/scim/v2/Users/{user['id']}", params={"attributes": f"{BADGE}:pin"}
    ).json()
    assert asked[BADGE] == {"pin": "1234"}
    found = extended.get("/scim/v2/Users", params={"filter": f'{BADGE}:badgeNumber eq "B-7"'})
    assert found.json()["totalResults"] == 1
    assert (
        extended.get("/scim/v2/Users", params={"filter": 'badgeNumber eq "b-7"'}).json()[
            "totalResults"
        ]
        == 0
    )  # caseExact
    patched = extended.patch(
        f"/scim/v2/Users/{user['id']}",
        json=patch_body({"op": "Replace", "path": f"{BADGE}:badgeNumber", "value": "B-8"}),
        headers=SCIM_JSON,
    )
    assert patched.json()[BADGE]["badgeNumber"] == "B-8"
    assert_error(
        extended.patch(
            f"/scim/v2/Users/{user['id']}",
            json=patch_body({"op": "Replace", "path": f"{BADGE}:vault", "value": "v2"}),
            headers=SCIM_JSON,
        ),
        400,
        "mutability",
    )
    assert_error(
        extended.post(
            "/scim/v2/Users",
            json={"schemas": [USER, BADGE], "userName": "acme2", BADGE: {"hired": "yesterday"}},
            headers=SCIM_JSON,
        ),
        400,
        "invalidValue",
    )


def test_bad_extension_files_stop_the_start(tmp_path: Path, database_url: str) -> None:
    with pytest.raises(ExtensionSchemaError, match="built in"):
        catalog_from_json({"User": [{"id": ENTERPRISE, "attributes": [{"name": "x"}]}]})
    with pytest.raises(ExtensionSchemaError, match="subAttributes"):
        catalog_from_json(
            {"User": [{"id": "urn:x", "attributes": [{"name": "c", "type": "complex"}]}]}
        )
    with pytest.raises(ExtensionSchemaError, match="mutability"):
        catalog_from_json(
            {"Group": [{"id": "urn:x", "attributes": [{"name": "c", "mutability": "sometimes"}]}]}
        )
    with pytest.raises(ExtensionSchemaError):
        catalog_from_json({"Device": []})
    missing = tmp_path / "missing.json"
    with pytest.raises(SettingsError, match="SCIM_EXTENSION_SCHEMAS"):
        compose(Settings(database_url=database_url, scim_extension_schemas=str(missing)))


def test_a_refused_patch_is_logged_for_the_corpus_without_secrets(
    client: TestClient[Any], caplog: pytest.LogCaptureFixture
) -> None:
    user = create_user(client, "logged")
    body = patch_body(
        {"op": "replace", "path": "password", "value": "hunter2"},
        {"op": "frobnicate", "path": "title", "value": "x"},
    )
    with caplog.at_level("WARNING", logger="inbound.web.scim_ops"):
        refused = client.patch(f"/scim/v2/Users/{user['id']}", json=body, headers=SCIM_JSON)
    assert_error(refused, 400, "invalidSyntax")
    record = next(r for r in caplog.records if r.getMessage() == "patch refused")
    logged = record.__dict__["body"]
    assert logged["Operations"][1]["op"] == "frobnicate"
    assert logged["Operations"][0]["value"] == "***"
    assert "hunter2" not in repr(record.__dict__)
