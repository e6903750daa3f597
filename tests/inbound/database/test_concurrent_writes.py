"""Two writes to one resource at the same moment: the second waits for the first and builds on
it, so neither change is lost. On SQLite writers are serialised by ``BEGIN IMMEDIATE``; on
PostgreSQL the PATCH locks the row it read (``FOR UPDATE``). Shown by holding the row in another
transaction, letting a PATCH start, and changing the row before releasing it: the PATCH must
apply on top of that change rather than on the state it would have read without the lock."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest

from inbound.database.store import Actor
from inbound.schema import USER_TYPE
from scheduler.composition import Runtime
from tests.support import entra_user, patch_body


def _waiting_on_a_lock(conn: psycopg.Connection[Any], application_name: str) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND application_name = %s",
        [application_name],
    ).fetchone()
    return bool(row and row[0])


def test_a_patch_waits_for_a_concurrent_write_and_keeps_it(
    runtime: Runtime, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers before they read; nothing can interleave")
    user = runtime.store.create(USER_TYPE, entra_user("racer"), Actor("test"))
    dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as holder, psycopg.connect(dsn, autocommit=True) as watcher:
        holder.execute("SELECT 1 FROM scim_resources WHERE scim_id = %s FOR UPDATE", [user.scim_id])
        outcome: list[Any] = []
        patcher = threading.Thread(
            target=lambda: outcome.append(
                runtime.store.patch(
                    USER_TYPE,
                    user.scim_id,
                    patch_body({"op": "replace", "path": "title", "value": "Race Marshal"}),
                    Actor("test"),
                )
            )
        )
        patcher.start()
        for _ in range(10_000):  # bounded: the PATCH reaches the lock in milliseconds
            if _waiting_on_a_lock(watcher, "scim-sync"):
                break
        else:
            pytest.fail("the PATCH never waited for the row lock")
        holder.execute(
            "UPDATE scim_resources SET data = jsonb_set(data, '{nickName}', '\"Speedy\"'), "
            "generation = generation + 1 WHERE scim_id = %s",
            [user.scim_id],
        )
        holder.commit()
        patcher.join(timeout=30)
    assert outcome, "the PATCH did not finish"
    final = runtime.store.get(USER_TYPE, user.scim_id)
    assert final.data["title"] == "Race Marshal"
    assert final.data["nickName"] == "Speedy"  # the concurrent change survived
    assert outcome[0].generation == final.generation == 3
