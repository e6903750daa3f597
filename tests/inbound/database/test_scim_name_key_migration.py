"""Migration 0004 recomputes name keys on a database written with casefold-only keys: rows
that now share a key are all kept, the oldest holds the name, the others are set aside and
audited; the SCIM API then refuses a new lookalike and lets the set-aside one be renamed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import insert, select

from inbound.database.store import Actor
from inbound.database.tables import audit, resources
from inbound.schema import USER_TYPE
from scheduler import db
from scheduler.composition import compose
from scheduler.settings import Settings
from tests.support import FakeClock

R = resources.c
START = datetime(2026, 1, 1, tzinfo=UTC)


def _row(
    scim_id: str, kind: str, name: str, minutes: int, deleted: bool = False
) -> dict[str, object]:
    field = "userName" if kind == "User" else "displayName"
    at = START + timedelta(minutes=minutes)
    return {
        "scim_id": scim_id,
        "kind": kind,
        "name_key": name.casefold(),  # the rule before 0004
        "data": {field: name},
        "generation": 1,
        "created_at": at,
        "updated_at": at,
        "deleted_at": at if deleted else None,
    }


def test_clashing_rows_are_kept_apart_and_audited(database_url: str) -> None:
    engine = db.make_engine(database_url)
    cfg, _ = db._config("staging", engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003_tokens")
    rows = [
        _row("00000000-0000-7000-8000-000000000001", "User", "alice", 1),
        _row("00000000-0000-7000-8000-000000000002", "User", "Alice ", 2),
        _row("00000000-0000-7000-8000-000000000003", "User", "\uff41\uff4c\uff49\uff43\uff45", 3),
        _row("00000000-0000-7000-8000-000000000004", "User", "bob  smith", 4),
        _row("00000000-0000-7000-8000-000000000005", "User", "alice\u3000", 5, deleted=True),
        # a younger row that held the folded key already: it must give way to an older one
        _row("00000000-0000-7000-8000-000000000007", "Group", "admins", 7),
        _row("00000000-0000-7000-8000-000000000006", "Group", " Admins", 6),
        _row("00000000-0000-7000-8000-000000000008", "User", "admins", 8),
    ]
    with engine.begin() as conn:
        conn.execute(insert(resources), rows)
    db.upgrade_all(engine, engine)
    with engine.connect() as conn:
        keys = {i: k for i, k in conn.execute(select(R.scim_id, R.name_key))}
        events = conn.execute(
            select(audit.c.scim_id, audit.c.operation, audit.c.detail).order_by(audit.c.scim_id)
        ).all()
    ids = [str(r["scim_id"]) for r in rows]
    assert keys[ids[0]] == "alice"
    assert keys[ids[1]] == f" {ids[1]} alice"
    assert keys[ids[2]] == f" {ids[2]} alice"
    assert keys[ids[3]] == "bob smith"
    assert keys[ids[4]] == "alice"  # a tombstone holds no name
    assert keys[ids[6]] == "admins"  # the older group, created at minute 6
    assert keys[ids[5]] == f" {ids[5]} admins"
    assert keys[ids[7]] == "admins"  # a user: names are unique per kind
    assert [(e.scim_id, e.operation) for e in events] == [
        (ids[1], "name-clash"),
        (ids[2], "name-clash"),
        (ids[5], "name-clash"),
    ]
    assert events[0].detail["clashes_with"] == ids[0]
    engine.dispose()

    runtime = compose(Settings(database_url=database_url), clock=FakeClock())
    try:
        store, actor = runtime.store, Actor("test")
        found = store.search(USER_TYPE, None)[0]
        assert found == 5  # every live user is still there
        renamed = store.patch(
            USER_TYPE,
            ids[1],
            {"Operations": [{"op": "replace", "path": "userName", "value": "alice2"}]},
            actor,
        )
        assert renamed.data["userName"] == "alice2"
        kept = store.patch(
            USER_TYPE,
            ids[2],
            {"Operations": [{"op": "replace", "path": "title", "value": "x"}]},
            actor,
        )
        assert kept.data["title"] == "x"
    finally:
        runtime.dispose()
