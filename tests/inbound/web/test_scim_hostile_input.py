"""Bad input answers a SCIM 4xx with a precise detail, never a 500, identically on SQLite and
PostgreSQL; names that only look different clash; what was refused left nothing behind."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select, update

from inbound.database.tables import resources
from inbound.input_rules import MAX_JSON_DEPTH
from scheduler.composition import Runtime
from tests.support import entra_user, patch_body
from tests.support.scim_client import SCIM_JSON, assert_error, create_group, create_user

Client = TestClient[Any]
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def _users(client: Client) -> int:
    return int(client.get("/scim/v2/Users?count=0").json()["totalResults"])


def test_a_long_and_chain_is_refused_with_the_limit(client: Client) -> None:
    create_user(client, "chain")
    chain = " and ".join(f'userName eq "u{i}"' for i in range(1500))
    body = {"schemas": [SEARCH], "filter": chain}
    detail = assert_error(client.post("/scim/v2/Users/.search", json=body), 400, "invalidFilter")
    assert "4096" in detail["detail"]
    short = " and ".join(['userName eq "chain"'] * 60)  # under the caps: a balanced tree
    found = client.post("/scim/v2/Users/.search", json={"schemas": [SEARCH], "filter": short})
    assert found.status_code == 200, found.text
    assert found.json()["totalResults"] == 1
    many = " or ".join(f'title eq "t{i}"' for i in range(70))
    detail = assert_error(client.get("/scim/v2/Users", params={"filter": many}), 400)
    assert "256 tokens" in detail["detail"]


@pytest.mark.parametrize("method", ["POST", "PATCH", "BULK", "SEARCH"])
def test_deeply_nested_bodies_are_refused(client: Client, method: str) -> None:
    user = create_user(client, "nested")
    deep = b"[" * 100_000 + b"]" * 100_000
    modest = b'{"userName": "n2", "title": ' + b"[" * 40 + b"]" * 40 + b"}"
    url = {
        "POST": "/scim/v2/Users",
        "PATCH": f"/scim/v2/Users/{user['id']}",
        "BULK": "/scim/v2/Bulk",
        "SEARCH": "/scim/v2/Users/.search",
    }[method]
    verb = "POST" if method in ("BULK", "SEARCH") else method
    for raw in (deep, modest):
        response = client.request(verb, url, content=raw, headers=SCIM_JSON)
        if method == "SEARCH" and raw is deep:  # over the search body's size, unread
            assert "65,536 bytes" in assert_error(response, 413)["detail"]
            continue
        detail = assert_error(response, 400, "invalidSyntax")
        assert str(MAX_JSON_DEPTH) in detail["detail"]
    assert _users(client) == 1


def test_lengths_are_checked_against_the_columns(client: Client) -> None:
    detail = assert_error(
        client.post("/scim/v2/Users", json=entra_user("x" * 600), headers=SCIM_JSON),
        400,
        "invalidValue",
    )
    assert "userName" in detail["detail"] and "512" in detail["detail"]
    long_external = entra_user("fine", externalId="e" * 513)
    assert_error(client.post("/scim/v2/Users", json=long_external), 400, "invalidValue")
    expanding = "\ufdfa" * 40  # 40 characters, 720 once NFKC expands them
    assert_error(client.post("/scim/v2/Users", json=entra_user(expanding)), 400, "invalidValue")
    user = create_user(client, "y" * 512, displayName="y", externalId="y")
    rename = patch_body({"op": "replace", "path": "displayName", "value": "d" * 600})
    assert_error(client.patch(f"/scim/v2/Users/{user['id']}", json=rename), 400, "invalidValue")
    assert _users(client) == 1


def test_nul_and_control_characters_are_refused_everywhere(client: Client) -> None:
    user = create_user(client, "ctl")
    for body in (
        entra_user("nul\u0000name"),
        entra_user("fine1", title="a\u0000b"),
        entra_user("fine2", title="bell\u0007"),
        entra_user("fine3", title="two\nlines"),
        {**entra_user("fine4"), "na\u0000me": {}},
    ):
        detail = assert_error(client.post("/scim/v2/Users", json=body), 400, "invalidValue")
        assert "U+00" in detail["detail"] and "position" in detail["detail"]
    nul_patch = patch_body({"op": "replace", "path": "title", "value": "x\u0000"})
    assert_error(client.patch(f"/scim/v2/Users/{user['id']}", json=nul_patch), 400, "invalidValue")
    assert_error(client.get("/scim/v2/Users/a%00b"), 404)
    assert_error(client.delete("/scim/v2/Users/" + "z" * 600), 404)
    nul_filter = {"filter": 'userName eq "a\u0000"'}
    assert_error(client.get("/scim/v2/Users", params=nul_filter), 400, "invalidFilter")
    address = {"streetAddress": "1 Main St\r\nFloor 2", "type": "work"}
    multi_line = create_user(client, "postal", addresses=[address])
    assert multi_line["addresses"][0]["streetAddress"] == "1 Main St\r\nFloor 2"
    assert _users(client) == 2


def test_huge_numbers_are_refused(client: Client, admin_key: str) -> None:
    huge = "99999999999999999999999"
    detail = assert_error(client.get(f"/scim/v2/Users?startIndex={huge}"), 400, "invalidValue")
    assert "startIndex" in detail["detail"]
    body = {"schemas": [SEARCH], "startIndex": int(huge)}
    assert_error(client.post("/scim/v2/Users/.search", json=body), 400, "invalidValue")
    assert client.get(f"/scim/v2/Users?count={huge}").status_code == 200
    assert client.get(f"/scim/v2/Users?count=-{huge}").status_code == 200
    assert_error(client.get("/scim/v2/Users?startIndex=" + "9" * 5000), 400, "invalidValue")
    assert_error(client.get("/scim/v2/Users?filter=title+gt+1e999"), 400, "invalidFilter")
    assert_error(client.get(f"/scim/v2/Users?filter=title+gt+{huge}"), 400, "invalidFilter")
    raw = b'{"userName": "n", "title": ' + b"9" * 30 + b"}"
    assert_error(client.post("/scim/v2/Users", content=raw, headers=SCIM_JSON), 400)
    admin = {"Authorization": f"Bearer {admin_key}"}
    for before in (huge, "\u00b2", "-1"):
        answer = client.get("/api/v1/audit", params={"before": before}, headers=admin)
        detail = assert_error(answer, 400, "invalidValue")
        assert "before" in detail["detail"]


@pytest.mark.parametrize(
    ("name", "char"),
    [
        ("ali\u200bce", "U+200B"),
        ("alice\u2028", "U+2028"),
        ("alice\t", "U+0009"),
        ("\u00adalice", "U+00AD"),
        ("alice\u0085", "U+0085"),
    ],
)
def test_names_refuse_invisible_characters(client: Client, name: str, char: str) -> None:
    user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name}
    detail = assert_error(client.post("/scim/v2/Users", json=user), 400, "invalidValue")
    assert char in detail["detail"] and "userName" in detail["detail"]
    group = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name}
    detail = assert_error(client.post("/scim/v2/Groups", json=group), 400, "invalidValue")
    assert char in detail["detail"] and "displayName" in detail["detail"]
    position = next(i for i, c in enumerate(name, start=1) if f"U+{ord(c):04X}" == char)
    assert f"position {position}" in detail["detail"]


def test_lookalike_names_clash_and_eq_keeps_its_meaning(client: Client) -> None:
    alice = create_user(client, "alice")
    spaced = create_user(client, "al ice")
    for lookalike in ("alice ", " alice", "ALICE", "\uff41\uff4c\uff49\uff43\uff45", "alice\u00a0"):
        response = client.post("/scim/v2/Users", json=entra_user(lookalike))
        detail = assert_error(response, 409, "uniqueness")["detail"]
        assert alice["id"] in detail and "width and spacing" in detail
    clash = assert_error(client.post("/scim/v2/Users", json=entra_user("al  ice")), 409)
    assert spaced["id"] in clash["detail"]
    admins = create_group(client, "Admins")
    response = client.post(
        "/scim/v2/Groups",
        json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Admins "},
    )
    assert admins["id"] in assert_error(response, 409, "uniqueness")["detail"]
    # eq compares ignoring case only (RFC 7643): Entra's match query finds what it created,
    # and a lookalike finds nothing (its create then answers 409)
    for query, expected in (('"ALICE"', 1), ('"alice "', 0), ('"\uff41lice"', 0)):
        found = client.get("/scim/v2/Users", params={"filter": f"userName eq {query}"}).json()
        assert found["totalResults"] == expected, query
        general = f"userName eq {query} and userName pr"
        found = client.get("/scim/v2/Users", params={"filter": general}).json()
        assert found["totalResults"] == expected, general
    renamed = patch_body({"op": "replace", "path": "userName", "value": " AL ICE "})
    response = client.patch(f"/scim/v2/Users/{alice['id']}", json=renamed)
    assert_error(response, 409, "uniqueness")
    assert _users(client) == 2


def test_a_name_stored_before_the_rules_can_be_fixed_by_patch(
    client: Client, runtime: Runtime
) -> None:
    user = create_user(client, "bob")
    with runtime.database_engine.begin() as conn:  # as a row written before this change
        row = resources.c
        data = conn.execute(select(row.data).where(row.scim_id == user["id"])).scalar_one()
        data["userName"] = "bob\u200b"
        conn.execute(update(resources).where(row.scim_id == user["id"]).values(data=data))
    other = patch_body({"op": "replace", "path": "active", "value": False})
    answer = client.patch(f"/scim/v2/Users/{user['id']}", json=other)
    assert answer.status_code == 200, answer.text
    assert answer.json()["userName"] == "bob\u200b"
    fixed = patch_body({"op": "replace", "path": "userName", "value": "bob"})
    answer = client.patch(f"/scim/v2/Users/{user['id']}", json=fixed)
    assert answer.status_code == 200, answer.text
    assert answer.json()["userName"] == "bob"
    worse = patch_body({"op": "replace", "path": "userName", "value": "bob\u200b"})
    assert_error(client.patch(f"/scim/v2/Users/{user['id']}", json=worse), 400, "invalidValue")


def test_searches_that_may_be_slow_leave_the_event_loop(
    client: Client, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entra's lookup runs where requests are served; a general filter, a sort or a list
    without filter runs in a worker thread, so the loop keeps serving meanwhile."""
    user = create_user(client, "threads")
    store, seen = runtime.services.store, []
    search, get = store.search, store.get

    def record(call: Any) -> Any:
        def recorded(*args: Any, **kwargs: Any) -> Any:
            seen.append(threading.get_ident())
            return call(*args, **kwargs)

        return recorded

    monkeypatch.setattr(store, "search", record(search))
    monkeypatch.setattr(store, "get", record(get))
    client.get(f"/scim/v2/Users/{user['id']}")
    client.get("/scim/v2/Users", params={"filter": 'userName eq "threads"'})
    loop = set(seen)
    assert len(loop) == 1
    for params in ({"filter": "title pr"}, {"sortBy": "userName"}, {}):
        seen.clear()
        assert client.get("/scim/v2/Users", params=params).status_code == 200
        assert seen and not set(seen) & loop, params
    seen.clear()
    client.post("/scim/v2/Users/.search", json={"schemas": [SEARCH], "filter": "title pr"})
    client.post("/scim/v2/.search", json={"schemas": [SEARCH], "filter": "title pr"})
    assert seen and not set(seen) & loop
