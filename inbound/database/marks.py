"""Marking a staged write for the targets, inside the write's own DBAPI transaction.

Each target gets (or updates) its ledger row with the generation to reach, so the reconciler
finds due work with an indexed query (workers in other processes are told after the commit, by
``scheduler.wakeups.ChangeAnnouncer``). Written as fixed SQL because it runs on every SCIM write.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from inbound.database.rows import Rows
from reconcile.phases import phase_of


def mark_changed(
    rows: Rows,
    cur: Any,
    *,
    scim_id: str,
    kind: str,
    generation: int,
    deleted: bool,
    active: bool,
    targets: Sequence[str],
    now: datetime,
) -> None:
    if not targets:
        return
    phase = phase_of(kind, deleted)
    desired_active = rows.bool_in(active and not deleted)
    moment = rows.time_in(now)
    # one upsert per target, no rowcount to read: in a PostgreSQL pipeline it costs no round trip
    cur.executemany(
        rows.sql(
            "INSERT INTO sync_state (target, scim_id, phase, desired_generation, desired_active, "
            "observed_generation, attempted_generation, status, attempts, changed_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, 0, 0, 'pending', 0, ?, ?) "
            "ON CONFLICT (target, scim_id) DO UPDATE SET "
            "desired_generation = excluded.desired_generation, "
            "desired_active = excluded.desired_active, phase = excluded.phase, "
            "changed_at = excluded.changed_at, updated_at = excluded.updated_at"
        ),
        [
            (target, scim_id, phase, generation, desired_active, moment, moment)
            for target in targets
        ],
    )
