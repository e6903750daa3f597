"""How far the targets are behind staging, read straight from the ledger."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from inbound.database.tables import sync_state


def behind(engine: Engine) -> int:
    """Ledger rows whose target has not yet observed the staged generation."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).where(
                    sync_state.c.observed_generation < sync_state.c.desired_generation
                )
            ).scalar_one()
        )
