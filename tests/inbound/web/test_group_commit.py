"""Writes that arrive together share one transaction (group commit) and still succeed or fail
one by one: on SQLite a group with a failed write runs again with savepoints, on PostgreSQL
write by write."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient
from sqlalchemy import func, select

from inbound.database.store import Actor, ResourceStore
from inbound.database.tables import audit, reading, resources
from inbound.errors import ScimError
from inbound.schema import USER_TYPE
from inbound.web.app import create_app
from scheduler.composition import Runtime
from tests.support import entra_user, patch_body
from tests.support.live_app import serve

ACTOR = Actor("test")


def _live_users(runtime: Runtime) -> list[str]:
    with reading(
        runtime.database_engine
    ) as conn:  # takes no write lock, even inside a group commit
        query = select(resources.c.name_key).where(resources.c.deleted_at.is_(None))
        return sorted(conn.execute(query).scalars())


def _creates_audited(runtime: Runtime) -> int:
    with runtime.database_engine.connect() as conn:
        query = select(func.count()).where(audit.c.operation == "create")
        return int(conn.execute(query).scalar_one())


def test_concurrent_requests_succeed_or_fail_one_by_one(runtime: Runtime, scim_token: str) -> None:
    """A duplicate and a malformed body among concurrent creates are refused alone."""
    app = create_app(runtime.services)
    headers = {"Authorization": f"Bearer {scim_token}", "Content-Type": "application/scim+json"}

    async def burst() -> list[httpx.Response]:
        # httpx types an ASGI app's messages as plain mappings, Litestar as its TypedDicts
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://scim.test") as client:
            bodies: list[Any] = [entra_user(f"u{n}") for n in range(4)]
            bodies.insert(2, entra_user("U1"))  # userName is unique case-insensitively
            bodies.insert(4, {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]})
            return await asyncio.gather(
                *(client.post("/scim/v2/Users", json=b, headers=headers) for b in bodies)
            )

    statuses = [r.status_code for r in asyncio.run(burst())]
    assert statuses == [201, 201, 409, 201, 400, 201]
    assert _live_users(runtime) == ["u0", "u1", "u2", "u3"]
    assert _creates_audited(runtime) == 4


def test_a_sqlite_group_commit_keeps_the_writes_that_succeeded_and_only_those(
    runtime: Runtime, database_url: str
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("a PostgreSQL group commit does not isolate failures; the committer reruns it")
    store = runtime.store
    with store.group_commit():
        store.create(USER_TYPE, entra_user("kept"), ACTOR)
        with pytest.raises(ScimError) as refused:
            store.create(USER_TYPE, entra_user("KEPT"), ACTOR)
        store.create(USER_TYPE, entra_user("also-kept"), ACTOR)
    assert refused.value.status == 409
    assert _live_users(runtime) == ["also-kept", "kept"]
    assert _creates_audited(runtime) == 2


def test_a_bare_sqlite_group_commit_fails_whole_when_one_of_its_writes_fails(
    runtime: Runtime, database_url: str
) -> None:
    """Without savepoints a refused write cannot be undone alone: even though its caller
    caught the refusal and went on, the group commits nothing (the committer then runs it
    again isolated)."""
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL group commits never isolate failures")
    store = runtime.store
    store.create(USER_TYPE, entra_user("taken"), ACTOR)

    def bare_group() -> None:
        with store.group_commit(isolate=False):
            store.create(USER_TYPE, entra_user("lost"), ACTOR)
            with pytest.raises(ScimError) as refused:
                store.create(USER_TYPE, entra_user("TAKEN"), ACTOR)
            assert refused.value.status == 409
            store.create(USER_TYPE, entra_user("lost-too"), ACTOR)

    with pytest.raises(sqlite3.OperationalError):
        bare_group()
    assert _live_users(runtime) == ["taken"]
    assert _creates_audited(runtime) == 1


def test_nothing_of_a_failed_group_commit_is_written_and_nobody_is_told_of_a_change(
    runtime: Runtime,
) -> None:
    told: list[str] = []
    store = ResourceStore(
        runtime.database_engine, clock=runtime.services.clock, on_change=lambda: told.append("x")
    )

    def failing_group() -> None:
        with store.group_commit():
            store.create(USER_TYPE, entra_user("lost"), ACTOR)
            assert told == []  # not before the commit
            raise OSError("the commit could not be written")

    with pytest.raises(OSError):
        failing_group()
    assert _live_users(runtime) == []
    assert told == []
    with store.group_commit():
        store.create(USER_TYPE, entra_user("one"), ACTOR)
        store.create(USER_TYPE, entra_user("two"), ACTOR)
    assert told == ["x"]  # once, after the commit


def test_rows_read_ahead_for_a_group_commit_never_answer_with_a_stale_state(
    runtime: Runtime,
) -> None:
    """Two PATCHes of one user in a group commit build on each other, and a group write in between
    shows in the user's groups, though both users' rows were read (and locked) ahead."""
    store, groups = runtime.store, runtime.services.catalog.group
    one = store.create(USER_TYPE, entra_user("one"), ACTOR).scim_id
    two = store.create(USER_TYPE, entra_user("two"), ACTOR).scim_id
    team = store.create(groups, {"displayName": "team"}, ACTOR).scim_id

    def rename(scim_id: str, name: str) -> Any:
        body = patch_body({"op": "Replace", "path": "displayName", "value": name})
        return store.patch(USER_TYPE, scim_id, body, ACTOR)

    with store.group_commit():
        store.lock_ahead([one, two, one])
        assert rename(one, "first").data["displayName"] == "first"
        assert rename(one, "second").generation == 3  # built on the first, not the row ahead
        add = patch_body({"op": "Add", "path": "members", "value": [{"value": two}]})
        store.patch(groups, team, add, ACTOR)
        renamed = rename(two, "joined")
    assert renamed.groups == [{"value": team, "display": "team"}]
    assert store.get(USER_TYPE, one).data["displayName"] == "second"


def test_the_app_claims_the_store_for_its_event_loop(runtime: Runtime) -> None:
    """A thread that used the store first (here: the test's) must not keep the connection
    SQLite group commits need: the app's startup hands it to the event loop's thread, where
    a group commit then really holds its writes until the COMMIT."""
    store = runtime.store
    store.create(USER_TYPE, entra_user("first"), ACTOR)  # this thread uses the store first

    def group_in_the_loop() -> list[str]:
        with store.group_commit():
            store.create(USER_TYPE, entra_user("grouped"), ACTOR)
            return _live_users(runtime)  # from another connection, before the COMMIT

    with TestClient(create_app(runtime.services), base_url="http://scim.test") as client:
        seen_before_commit = client.blocking_portal.call(group_in_the_loop)
    assert seen_before_commit == ["first"]
    assert _live_users(runtime) == ["first", "grouped"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_write_waiting_for_a_sqlite_lock_held_elsewhere_leaves_the_loop_free(
    runtime: Runtime, scim_token: str, database_url: str
) -> None:
    """Another process holds SQLite's write lock (a ``sqlite3`` shell, a backup): a POST
    waits for it, and meanwhile ``/healthz`` answers, over real HTTP.

    The create is observed as it reaches the store, where the wait for the lock starts;
    only then is ``/healthz`` asked. While the event loop itself waited (busy timeout 30 s),
    that probe could not be answered within its 10 s."""
    reached = threading.Event()
    create = runtime.store.create

    def observed_create(*args: Any, **kwargs: Any) -> Any:
        reached.set()
        return create(*args, **kwargs)

    runtime.store.create = observed_create  # type: ignore[method-assign]
    holder = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    headers = {"Authorization": f"Bearer {scim_token}"}
    answers: dict[str, httpx.Response] = {}
    with serve(runtime) as base, httpx.Client(base_url=base, timeout=60) as probe:
        assert probe.get("/scim/v2/Users", headers=headers).status_code == 200  # token cached
        holder.execute("BEGIN EXCLUSIVE")

        def post() -> None:
            with httpx.Client(base_url=base, timeout=60) as client:
                answers["post"] = client.post(
                    "/scim/v2/Users", json=entra_user("waits"), headers=headers
                )

        poster = threading.Thread(target=post)
        poster.start()
        try:
            assert reached.wait(30), "the POST never reached the store"
            assert probe.get("/healthz", timeout=10).status_code == 200
            assert "post" not in answers  # still waiting for the lock
        finally:
            holder.execute("COMMIT")
            poster.join(60)
    holder.close()
    assert answers["post"].status_code == 201
    assert _live_users(runtime) == ["waits"]
