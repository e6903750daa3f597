"""SCIM /Groups, Entra's member dialect included, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from inbound.database.store import Actor
from inbound.schema import USER_TYPE
from scheduler.composition import Runtime
from tests.support import entra_group, entra_user, patch_body
from tests.support.scim_client import assert_error, new_group
from tests.support.scim_client import create_user as create


def members_of(client: TestClient[Any], group_id: str) -> set[str]:
    body = client.get(f"/scim/v2/Groups/{group_id}").json()
    return {m["value"] for m in body.get("members", [])}


def test_group_created_empty_with_the_microsoft_schema_uri(client: TestClient[Any]) -> None:
    group = new_group(client, "Engineering")
    assert group["displayName"] == "Engineering"
    assert group["members"] == []
    assert group["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:Group"]


def test_duplicate_display_name_is_409(client: TestClient[Any]) -> None:
    new_group(client, "Ops")
    assert_error(client.post("/scim/v2/Groups", json=entra_group("ops")), 409, "uniqueness")


def test_entra_member_add_and_default_remove_keeps_the_others(client: TestClient[Any]) -> None:
    a, b, c = (create(client, n)["id"] for n in ("ga", "gb", "gc"))
    group = new_group(client, "Team")
    add = client.patch(
        f"/scim/v2/Groups/{group['id']}",
        json=patch_body(
            {
                "op": "Add",
                "path": "members",
                "value": [{"$ref": None, "value": a}, {"$ref": None, "value": b}],
            }
        ),
    )
    assert add.status_code == 200
    again = client.patch(
        f"/scim/v2/Groups/{group['id']}",
        json=patch_body({"op": "Add", "path": "members", "value": [{"value": a}, {"value": c}]}),
    )
    assert again.status_code == 200
    assert members_of(client, group["id"]) == {a, b, c}
    remove = client.patch(
        f"/scim/v2/Groups/{group['id']}",
        json=patch_body({"op": "Remove", "path": "members", "value": [{"value": a}]}),
    )
    assert remove.status_code == 200
    assert members_of(client, group["id"]) == {b, c}
    flag_style = client.patch(
        f"/scim/v2/Groups/{group['id']}",
        json=patch_body({"op": "remove", "path": f'members[value eq "{b}"]'}),
    )
    assert flag_style.status_code == 200
    assert members_of(client, group["id"]) == {c}


def test_members_are_listed_on_the_user_and_excluded_on_request(client: TestClient[Any]) -> None:
    user = create(client, "member1")
    group = new_group(client, "Readers")
    client.patch(
        f"/scim/v2/Groups/{group['id']}",
        json=patch_body({"op": "add", "path": "members", "value": [{"value": user["id"]}]}),
    )
    on_user = client.get(f"/scim/v2/Users/{user['id']}").json()
    assert on_user["groups"][0]["value"] == group["id"]
    assert on_user["groups"][0]["display"] == "Readers"
    matched = client.get(
        "/scim/v2/Groups",
        params={"excludedAttributes": "members", "filter": 'displayName eq "Readers"'},
    ).json()
    assert matched["totalResults"] == 1
    assert "members" not in matched["Resources"][0]
    assert matched["Resources"][0]["displayName"] == "Readers"


def test_unknown_member_is_skipped_and_the_rest_applies(client: TestClient[Any]) -> None:
    user = create(client, "member2")
    group = new_group(client, "Lenient")
    response = client.patch(
        f"/scim/v2/Groups/{group['id']}",
        json=patch_body(
            {"op": "add", "path": "members", "value": [{"value": user["id"]}, {"value": "ghost"}]},
            {"op": "replace", "path": "displayName", "value": "Renamed"},
        ),
    )
    assert response.status_code == 200
    assert response.json()["displayName"] == "Renamed"
    assert [m["value"] for m in response.json()["members"]] == [user["id"]]
    assert members_of(client, group["id"]) == {user["id"]}


def test_a_group_cannot_be_its_own_member(client: TestClient[Any]) -> None:
    group = new_group(client, "Ouroboros")
    response = client.patch(
        f"/scim/v2/Groups/{group['id']}",
        json=patch_body({"op": "add", "path": "members", "value": [{"value": group["id"]}]}),
    )
    assert_error(response, 400, "invalidValue")
    assert members_of(client, group["id"]) == set()


def test_rename_and_delete_group(client: TestClient[Any]) -> None:
    group = new_group(client, "Old")
    rename = client.patch(
        f"/scim/v2/Groups/{group['id']}",
        json=patch_body({"op": "Replace", "path": "displayName", "value": "New"}),
    )
    assert rename.status_code == 200
    assert client.get(f"/scim/v2/Groups/{group['id']}").json()["displayName"] == "New"
    assert client.delete(f"/scim/v2/Groups/{group['id']}").status_code == 204
    assert_error(client.get(f"/scim/v2/Groups/{group['id']}"), 404)


def test_deleting_a_user_removes_its_memberships(client: TestClient[Any]) -> None:
    a, b = create(client, "da")["id"], create(client, "db")["id"]
    group = new_group(client, "Gone")
    client.patch(
        f"/scim/v2/Groups/{group['id']}",
        json=patch_body({"op": "add", "path": "members", "value": [{"value": a}, {"value": b}]}),
    )
    client.delete(f"/scim/v2/Users/{a}")
    assert members_of(client, group["id"]) == {b}


def test_a_users_groups_are_listed_by_name_and_leave_with_a_deleted_group(
    client: TestClient[Any],
) -> None:
    user = create(client, "joiner")
    groups = {name: new_group(client, name)["id"] for name in ("beta", "Alpha", "gamma")}
    for group_id in groups.values():
        client.patch(
            f"/scim/v2/Groups/{group_id}",
            json=patch_body({"op": "add", "path": "members", "value": [{"value": user["id"]}]}),
        )
    by_id = client.get(f"/scim/v2/Users/{user['id']}").json()["groups"]
    by_filter = client.get("/scim/v2/Users", params={"filter": 'userName eq "joiner"'}).json()
    assert [g["display"] for g in by_id] == ["Alpha", "beta", "gamma"]
    assert by_filter["Resources"][0]["groups"] == by_id
    assert {g["value"] for g in by_id} == set(groups.values())
    client.delete(f"/scim/v2/Groups/{groups['beta']}")
    after = client.get(f"/scim/v2/Users/{user['id']}").json()["groups"]
    assert [g["display"] for g in after] == ["Alpha", "gamma"]
    none = create(client, "loner")
    assert "groups" not in client.get(f"/scim/v2/Users/{none['id']}").json()


def test_the_member_count_probe_stops_at_its_limit(runtime: Runtime) -> None:
    store, actor = runtime.store, Actor("test")
    users = [store.create(USER_TYPE, entra_user(f"m{n}"), actor).scim_id for n in range(5)]
    group = store.create(runtime.services.catalog.group, entra_group("probed"), actor)
    body = patch_body({"op": "Add", "path": "members", "value": [{"value": u} for u in users]})
    store.patch(runtime.services.catalog.group, group.scim_id, body, actor)
    assert store.has_more_members(group.scim_id, 4)
    assert not store.has_more_members(group.scim_id, 5)
    assert store.has_more_members(group.scim_id, 0)
    assert not store.has_more_members("no-such-group", 1)
