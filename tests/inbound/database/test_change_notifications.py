"""Other processes hear of a committed SCIM write: on PostgreSQL a NOTIFY follows the commit."""

from __future__ import annotations

import psycopg
import pytest

from inbound.database.ledger import CHANGES_CHANNEL
from inbound.database.store import Actor
from inbound.schema import USER_TYPE
from scheduler.composition import Runtime
from tests.support import entra_user


def test_a_committed_write_is_announced(runtime: Runtime, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite workers watch PRAGMA data_version instead")
    dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANGES_CHANNEL}")
        runtime.store.create(USER_TYPE, entra_user("heard"), Actor("test"))
        # other tests' processes notify on the same channel: wait for this runtime's own
        ours = None
        for notification in listener.notifies(timeout=30):
            assert notification.channel == CHANGES_CHANNEL
            assert runtime.announcer is not None
            if notification.pid == runtime.announcer.backend_pid:
                ours = notification
                break
    assert ours is not None, "no NOTIFY came from this runtime"
