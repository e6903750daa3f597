"""Live settings: what an operator changes while the service runs (SCIM switch, reconcile
interval), as opposed to the settings read once at start (``scheduler.settings``).

They live in the database (table ``runtime_settings``: tables keep their names, since
migrations only append), not in process memory, so every web and worker process agrees.
A change may join the caller's transaction (``joined``), so that it commits together with the
audit event that records it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection, Engine, insert, select, update

from inbound.database.service_tables import live_settings
from inbound.database.tables import reading, writing

S = live_settings.c
Clock = Callable[[], datetime]

SCIM_ENABLED = "scim_enabled"
RECONCILE_INTERVAL = "reconcile_interval_seconds"


class LiveSettings:
    def __init__(self, engine: Engine, *, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def get(self, key: str) -> str | None:
        with reading(self._engine) as conn:
            value: str | None = conn.execute(select(S.value).where(S.key == key)).scalar()
            return value

    def set(self, key: str, value: str, joined: Connection | None = None) -> None:
        now = self._clock()
        with writing(self._engine, joined) as conn:
            if not conn.execute(
                update(live_settings).where(S.key == key).values(value=value, updated_at=now)
            ).rowcount:
                conn.execute(insert(live_settings).values(key=key, value=value, updated_at=now))

    def scim_enabled(self) -> bool:
        return self.get(SCIM_ENABLED) != "false"

    def set_scim_enabled(self, enabled: bool, joined: Connection | None = None) -> None:
        self.set(SCIM_ENABLED, "true" if enabled else "false", joined)

    def reconcile_interval(self, default: float) -> float:
        value = self.get(RECONCILE_INTERVAL)
        return float(value) if value else default

    def set_reconcile_interval(self, seconds: float, joined: Connection | None = None) -> None:
        self.set(RECONCILE_INTERVAL, repr(float(seconds)), joined)
