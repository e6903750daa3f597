"""Other processes hear of a committed SCIM write: on PostgreSQL a NOTIFY follows the commit."""

from __future__ import annotations

import psycopg
import pytest

from inbound.schema import USER_TYPE
from inbound.staging.ledger import CHANGES_CHANNEL
from inbound.staging.store import Actor
from scheduler.composition import Runtime
from tests.support import entra_user


def test_a_committed_write_is_announced(runtime: Runtime, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite workers watch PRAGMA data_version instead")
    dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANGES_CHANNEL}")
        runtime.store.create(USER_TYPE, entra_user("heard"), Actor("test"))
        heard = list(listener.notifies(timeout=30, stop_after=1))  # returns on the first one
    assert [n.channel for n in heard] == [CHANGES_CHANNEL]
