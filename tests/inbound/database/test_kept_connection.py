"""The connection the event loop's thread keeps for PostgreSQL reads survives the death of its
server process: checked after an idle spell, and replaced after a failure."""

from __future__ import annotations

import psycopg
import pytest

from inbound.database import rows
from inbound.database.store import Actor
from inbound.schema import USER_TYPE
from scheduler.composition import Runtime
from tests.support import entra_user


def _kill_the_kept_backend(runtime: Runtime, dsn: str) -> None:
    kept = runtime.store._rows._held.driver_connection  # the connection under test
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [kept.info.backend_pid])


@pytest.fixture
def postgres_runtime(runtime: Runtime, database_url: str) -> Runtime:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite keeps a file open, not a server connection")
    return runtime


def test_after_an_idle_spell_a_dead_kept_connection_is_replaced_unnoticed(
    postgres_runtime: Runtime, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = postgres_runtime
    user = runtime.store.create(USER_TYPE, entra_user("kept"), Actor("test"))
    runtime.store.get(USER_TYPE, user.scim_id)  # this thread now keeps a connection
    _kill_the_kept_backend(runtime, database_url.replace("postgresql+psycopg", "postgresql"))
    monkeypatch.setattr(rows, "IDLE_BEFORE_PING", -1.0)  # every use counts as after a spell
    assert runtime.store.get(USER_TYPE, user.scim_id).data["userName"] == "kept"


def test_in_steady_use_a_dead_kept_connection_fails_one_read_and_is_replaced(
    postgres_runtime: Runtime, database_url: str
) -> None:
    runtime = postgres_runtime
    user = runtime.store.create(USER_TYPE, entra_user("kept"), Actor("test"))
    runtime.store.get(USER_TYPE, user.scim_id)
    _kill_the_kept_backend(runtime, database_url.replace("postgresql+psycopg", "postgresql"))
    with pytest.raises(psycopg.OperationalError):
        runtime.store.get(USER_TYPE, user.scim_id)
    assert runtime.store.get(USER_TYPE, user.scim_id).data["userName"] == "kept"
