"""Roles and extra attributes of Identity Manager records: written as differences in batches,
kept with their record through renames and deletes, and shown by ``identities get|list`` and
the admin API. On SQLite and PostgreSQL, through the migrated schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from litestar.testing import TestClient
from sqlalchemy import delete, func, insert, select, update

from connectors.identity_store.roles import (
    read_extra_for,
    read_roles_for,
    write_extra,
    write_extra_many,
    write_roles,
    write_roles_many,
)
from connectors.identity_store.tables import identities, identity_roles
from inbound.auth import SecretKind
from inbound.web.app import create_app
from reconcile.app_roles import AppRole
from reconcile.errors import PermanentTargetError
from scheduler.cli import main
from scheduler.composition import Runtime

NOW = datetime(2026, 12, 1, tzinfo=UTC)
ADMIN = AppRole("Admin", "Administrator", primary=True)
READER = AppRole("Reader", None)
AUDITOR = AppRole("25", "Role1234")


@pytest.fixture
def store(runtime: Runtime) -> Runtime:
    """Three records, E1 to E3, without roles or extra attributes."""
    with runtime.idm_engine.begin() as conn:
        conn.execute(
            insert(identities),
            [
                {"user_id": f"E{n}", "scim_id": f"id-{n}", "email": f"e{n}@example.com",
                 "active": True, "created_at": NOW, "updated_at": NOW}
                for n in (1, 2, 3)
            ],
        )  # fmt: skip
    return runtime


def test_roles_are_written_as_differences(store: Runtime) -> None:
    with store.idm_engine.begin() as conn:
        assert write_roles_many(conn, {"E1": [ADMIN, READER], "E2": [READER], "E3": []}) == {
            "E1",
            "E2",
        }
    with store.idm_engine.begin() as conn:
        assert write_roles_many(conn, {"E1": [READER, ADMIN], "E2": [READER], "E3": []}) == set()
        assert read_roles_for(conn, ["E1", "E2", "E3", "nobody"]) == {
            "E1": [ADMIN, READER],
            "E2": [READER],
        }
    renamed = AppRole("Admin", "Admins", primary=False)
    with store.idm_engine.begin() as conn:
        changed = write_roles_many(conn, {"E1": [renamed], "E2": [READER], "E3": [AUDITOR]})
        assert changed == {"E1", "E3"}
        assert write_roles(conn, "E2", []) is True
        assert read_roles_for(conn, ["E1", "E2", "E3"]) == {"E1": [renamed], "E3": [AUDITOR]}


def test_a_value_sent_twice_is_one_role(store: Runtime) -> None:
    with store.idm_engine.begin() as conn:
        write_roles(conn, "E1", [ADMIN, AppRole("Admin", "again")])
        assert read_roles_for(conn, ["E1"]) == {"E1": [ADMIN]}


def test_a_role_too_long_for_its_column_is_a_dead_letter_on_both_databases(
    store: Runtime,
) -> None:
    with store.idm_engine.begin() as conn, pytest.raises(PermanentTargetError, match="513"):
        write_roles(conn, "E1", [AppRole("x" * 513)])


def test_roles_follow_their_record_through_a_rename_and_go_with_it(store: Runtime) -> None:
    with store.idm_engine.begin() as conn:
        write_roles_many(conn, {"E1": [ADMIN], "E2": [READER]})
    with store.idm_engine.begin() as conn:
        conn.execute(update(identities).where(identities.c.user_id == "E1").values(user_id="E9"))
        conn.execute(delete(identities).where(identities.c.user_id == "E2"))
    with store.idm_engine.connect() as conn:
        assert read_roles_for(conn, ["E1", "E2", "E9"]) == {"E9": [ADMIN]}
        assert conn.execute(select(func.count()).select_from(identity_roles)).scalar() == 1


def test_extra_attributes_are_written_when_they_differ(store: Runtime) -> None:
    extra = {"costCenter": "4130", "badges": ["a", "b"]}
    with store.idm_engine.begin() as conn:
        assert write_extra_many(conn, {"E1": extra, "E2": {}, "E3": None}) == {"E1"}
        assert write_extra(conn, "E1", dict(extra)) is False
        assert read_extra_for(conn, ["E1", "E2", "E3"]) == {"E1": extra}
        assert write_extra(conn, "E1", {}) is True
        stored = conn.execute(select(identities.c.extra).where(identities.c.user_id == "E1"))
        assert stored.scalar() is None  # SQL NULL, not the JSON null
        assert read_extra_for(conn, ["E1"]) == {}


def test_identities_get_and_list_show_roles_and_extra(store: Runtime, database_url: str) -> None:
    with store.idm_engine.begin() as conn:
        write_roles(conn, "E1", [READER, ADMIN, AUDITOR])
        write_extra(conn, "E1", {"costCenter": "4130"})
    env = {"SCIM_SYNC_DATABASE_URL": database_url}
    runner = CliRunner()
    got = runner.invoke(main, ["identities", "get", "E1", "--json"], env=env)
    assert got.exit_code == 0, got.output
    record = json.loads(got.output)
    assert record["roles"] == [
        {"value": "Admin", "display": "Administrator", "primary": True},
        {"value": "25", "display": "Role1234", "primary": False},
        {"value": "Reader", "display": None, "primary": False},
    ]
    assert record["extra"] == {"costCenter": "4130"}
    assert record["email"] == "e1@example.com" and record["groups"] == []

    text = runner.invoke(main, ["identities", "get", "E1"], env=env).output.splitlines()
    assert "roles: Admin (Administrator) [primary], 25 (Role1234), Reader" in text
    assert "extra.costCenter: 4130" in text

    listed = json.loads(runner.invoke(main, ["identities", "list", "--json"], env=env).output)
    assert [(r["user_id"], len(r["roles"]), r["extra"]) for r in listed] == [
        ("E1", 3, {"costCenter": "4130"}),
        ("E2", 0, {}),
        ("E3", 0, {}),
    ]
    lines = runner.invoke(main, ["identities", "list"], env=env).output.splitlines()
    assert lines[0].endswith("\troles: Admin (Administrator) [primary], 25 (Role1234), Reader")
    assert lines[1] == "E2\te2@example.com\tactive\t"


def test_the_admin_api_identity_view_shows_roles_and_extra(store: Runtime) -> None:
    with store.idm_engine.begin() as conn:
        write_roles(conn, "E2", [READER])
    key = store.tokens.issue(SecretKind.ADMIN, None).secret
    with TestClient(create_app(store.services), base_url="http://scim.test") as client:
        answer = client.get("/api/v1/identities/E2", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["roles"] == [{"value": "Reader", "display": None, "primary": False}]
    assert body["extra"] == {}
