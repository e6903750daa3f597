"""The per-target sync ledger: what each target has observed, and who is applying what now.

Implements :class:`reconcile.ports.SyncLedger`. Each staged write marks the resource's rows
(one per target) with the generation to reach, in the write's own transaction, so finding due
work is an indexed query over the rows that are behind — not a scan of every resource.

Several workers share the work through leases: a claim sets ``claimed_by``/``claimed_until``
on the rows it takes. On PostgreSQL the claim skips rows another worker has locked
(``FOR UPDATE SKIP LOCKED``); on SQLite, claims are serialised by the write lock. A worker that
dies leaves leases that expire, and the work is claimed again.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Connection,
    Engine,
    Integer,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from inbound.database.locks import lock_in_key_order
from inbound.database.service_tables import holds
from inbound.database.sync_status import SyncStatusView
from inbound.database.tables import UtcDateTime, audit, reading, resources, sync_state
from reconcile.model import ResourceKind
from reconcile.phases import GROUP, GROUP_DELETE, USER, USER_DELETE, phase_of
from reconcile.ports import Action, Outcome, SyncStatus, WorkItem

R = resources.c
S = sync_state.c

CHANGES_CHANNEL = "scim_sync_changes"
"""PostgreSQL NOTIFY channel: workers in other processes wake up when a write commits."""


def _upsert_ignore(conn: Connection) -> Any:
    return pg_insert if conn.dialect.name == "postgresql" else sqlite_insert


_OBSERVED = bindparam("v_observed", type_=Integer)
_RECORD = (
    update(sync_state)
    .where(S.target == bindparam("w_target"), S.scim_id == bindparam("w_scim_id"))
    .values(
        status=bindparam("v_status"),
        attempted_generation=bindparam("v_attempted"),
        anchor=bindparam("v_anchor"),
        attempts=bindparam("v_attempts"),
        next_attempt_at=bindparam("v_next", type_=UtcDateTime),
        last_error=bindparam("v_error"),
        claimed_by=None,
        claimed_until=None,
        updated_at=bindparam("v_now", type_=UtcDateTime),
        observed_generation=case(
            (_OBSERVED.is_(None), S.observed_generation),
            (S.observed_generation > _OBSERVED, S.observed_generation),
            else_=_OBSERVED,
        ),
        observed_active=case(
            (bindparam("v_applied", type_=Boolean), S.desired_active), else_=S.observed_active
        ),
    )
)
"""Recording an outcome: the observed generation only moves forward."""


class StagingLedger(SyncStatusView):
    def __init__(
        self,
        engine: Engine,
        *,
        worker_id: str | None = None,
        lease: timedelta = timedelta(minutes=5),
    ) -> None:
        self._engine = engine
        self.worker_id = worker_id or uuid.uuid4().hex[:16]
        self._lease = lease
        self._alive: Connection | None = None

    def ensure_rows(self, targets: Sequence[str], now: datetime) -> int:
        """Give every staged resource a row per target, and heal rows whose desired generation
        lags the staged one (a target added later, or a database restored from backup)."""
        added = 0
        with self._engine.begin() as conn:
            for target in targets:
                missing = select(
                    R.scim_id,
                    R.kind,
                    R.generation,
                    R.deleted_at.is_not(None).label("deleted"),
                    R.active,
                    R.updated_at,
                ).where(
                    ~select(S.scim_id).where(S.target == target, S.scim_id == R.scim_id).exists()
                )
                rows = [
                    {
                        "target": target,
                        "scim_id": scim_id,
                        "phase": phase_of(kind, bool(deleted)),
                        "desired_generation": generation,
                        "desired_active": bool(active) and not deleted,
                        "status": SyncStatus.PENDING.value,
                        "changed_at": changed,
                        "updated_at": now,
                    }
                    for scim_id, kind, generation, deleted, active, changed in conn.execute(
                        missing.order_by(R.scim_id)
                    )
                ]
                for start in range(0, len(rows), 500):
                    conn.execute(
                        _upsert_ignore(conn)(sync_state)
                        .values(rows[start : start + 500])
                        .on_conflict_do_nothing()
                    )
                added += len(rows)
            staged = select(R.generation).where(R.scim_id == S.scim_id).scalar_subquery()
            lagging = S.desired_generation < staged
            lock_in_key_order(conn, lagging)
            conn.execute(update(sync_state).where(lagging).values(desired_generation=staged))
        return added

    @staticmethod
    def _due_filter(target: str, now: datetime) -> Any:
        return and_(
            S.target == target,
            S.observed_generation < S.desired_generation,
            or_(S.next_attempt_at.is_(None), S.next_attempt_at <= now),
            or_(S.status != SyncStatus.DEAD.value, S.attempted_generation < S.desired_generation),
            S.status != SyncStatus.HELD.value,
        )

    @staticmethod
    def _deleting() -> Any:
        return and_(S.phase.in_([GROUP_DELETE, USER_DELETE]), S.observed_generation > 0)

    @staticmethod
    def _disabling() -> Any:
        return and_(S.phase == USER, S.desired_active.is_(False), S.observed_active.is_(True))

    def claim(
        self, target: str, now: datetime, limit: int, *, destructive: bool = True
    ) -> list[WorkItem]:
        """Take up to ``limit`` due resources for this worker, in phase order; without
        ``destructive``, deletes and disables of applied resources stay where they are."""
        free = or_(S.claimed_until.is_(None), S.claimed_until < now, S.claimed_by == self.worker_id)
        where = [self._due_filter(target, now), free]
        if not destructive:
            where.append(~or_(self._deleting(), self._disabling()))
        with self._engine.begin() as conn:
            chosen = (
                select(S.scim_id)
                .where(*where)
                .order_by(S.phase, S.changed_at, S.scim_id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            ids = list(conn.execute(chosen).scalars())
            if not ids:
                return []
            conn.execute(
                update(sync_state)
                .where(S.target == target, S.scim_id.in_(ids))
                .values(claimed_by=self.worker_id, claimed_until=now + self._lease)
            )
            rows = conn.execute(
                select(S.scim_id, S.phase, S.desired_generation, S.anchor, S.attempts, R.kind)
                .join(resources, R.scim_id == S.scim_id)
                .where(S.target == target, S.scim_id.in_(ids))
                .order_by(S.phase, S.changed_at, S.scim_id)
            ).all()
        return [
            WorkItem(
                scim_id,
                ResourceKind(kind),
                generation,
                phase in (GROUP_DELETE, USER_DELETE),
                anchor,
                attempts,
            )
            for scim_id, phase, generation, anchor, attempts, kind in rows
        ]

    def peek(self, target: str, now: datetime, limit: int) -> list[WorkItem]:
        """What is due, without claiming it (for ``--dry-run``)."""
        with reading(self._engine) as conn:
            rows = conn.execute(
                select(S.scim_id, S.phase, S.desired_generation, S.anchor, S.attempts, R.kind)
                .join(resources, R.scim_id == S.scim_id)
                .where(self._due_filter(target, now))
                .order_by(S.phase, S.changed_at, S.scim_id)
                .limit(limit)
            ).all()
        return [
            WorkItem(scim_id, ResourceKind(kind), generation, phase < USER, anchor, attempts)
            for scim_id, phase, generation, anchor, attempts, kind in rows
        ]

    def announce_alive(self) -> None:
        """On PostgreSQL, hold a session advisory lock named after this worker for as long as
        the process lives: other workers can then tell its claims from a dead worker's."""
        if self._engine.dialect.name != "postgresql" or self._alive is not None:
            return
        self._alive = self._engine.connect()
        self._alive.execute(text("SELECT pg_advisory_lock(hashtext(:k))"), {"k": self._key()})
        self._alive.commit()

    def _key(self, worker_id: str | None = None) -> str:
        return f"scim-sync-worker:{worker_id or self.worker_id}"

    def release_dead_claims(self) -> int:
        """Free the claims of workers that are gone, so their work does not wait for the lease.

        PostgreSQL: a claimer whose advisory lock can be taken is dead. SQLite runs one worker
        process (documented), so every claim that is not this worker's is a dead worker's."""
        released = 0
        with self._engine.begin() as conn:
            holders = list(
                conn.execute(
                    select(S.claimed_by)
                    .where(S.claimed_by.is_not(None), S.claimed_by != self.worker_id)
                    .distinct()
                ).scalars()
            )
            for holder in holders:
                if (
                    conn.dialect.name == "postgresql"
                    and not conn.execute(
                        text("SELECT pg_try_advisory_xact_lock(hashtext(:k))"),
                        {"k": self._key(holder)},
                    ).scalar()
                ):
                    continue
                lock_in_key_order(conn, S.claimed_by == holder)
                released += conn.execute(
                    update(sync_state)
                    .where(S.claimed_by == holder)
                    .values(claimed_by=None, claimed_until=None)
                ).rowcount
        return released

    def close(self) -> None:
        if self._alive is not None:
            self._alive.close()
            self._alive = None

    def release(self, target: str) -> None:
        """Give back what this worker claimed but did not finish (the target went away)."""
        mine = and_(S.target == target, S.claimed_by == self.worker_id)
        with self._engine.begin() as conn:
            lock_in_key_order(conn, mine)
            conn.execute(update(sync_state).where(mine).values(claimed_by=None, claimed_until=None))

    def record_many(
        self, target: str, outcomes: Sequence[tuple[WorkItem, Outcome]], now: datetime
    ) -> None:
        """One transaction, two prepared statements executed for the whole batch.

        The rows are updated in ``scim_id`` order (see :func:`lock_in_key_order`): outcomes
        arrive in the order the applies finished, and two batches updating overlapping rows
        in different orders deadlocked on PostgreSQL."""
        if not outcomes:
            return
        outcomes = sorted(outcomes, key=lambda pair: pair[0].scim_id)
        rows = [
            {
                "w_target": target,
                "w_scim_id": item.scim_id,
                "v_status": outcome.status.value,
                "v_attempted": item.generation,
                "v_anchor": outcome.anchor,
                "v_attempts": outcome.attempts,
                "v_next": outcome.next_attempt_at,
                "v_error": outcome.last_error,
                "v_now": now,
                "v_observed": outcome.observed_generation,
                "v_applied": outcome.status is SyncStatus.APPLIED,
            }
            for item, outcome in outcomes
        ]
        events = [
            {
                "at": now,
                "actor": f"target:{target}",
                "scim_id": item.scim_id,
                "kind": item.kind.value,
                "operation": outcome.action.value if outcome.action else "apply",
                "generation": outcome.observed_generation or item.generation,
                "outcome": outcome.status.value,
                "detail": {"error": outcome.last_error} if outcome.last_error else None,
            }
            for item, outcome in outcomes
            if outcome.status is not SyncStatus.PENDING or outcome.last_error
        ]
        with self._engine.begin() as conn:
            conn.execute(_RECORD, rows)
            if events:
                conn.execute(insert(audit), events)

    def record(self, target: str, item: WorkItem, outcome: Outcome, now: datetime) -> None:
        self.record_many(target, [(item, outcome)], now)

    def forget_fully_deleted(self, targets: Iterable[str]) -> int:
        """Purge tombstones every configured target has observed."""
        names = list(targets)
        behind = (
            select(S.scim_id)
            .where(
                S.scim_id == R.scim_id,
                S.target.in_(names),
                S.observed_generation < R.generation,
            )
            .exists()
        )
        with self._engine.begin() as conn:
            gone = list(
                conn.execute(select(R.scim_id).where(R.deleted_at.is_not(None), ~behind)).scalars()
            )
            if gone:
                gone.sort()
                # resources before ledger rows, each in key order: the order a SCIM write takes
                if conn.dialect.name == "postgresql":
                    conn.execute(
                        select(R.scim_id)
                        .where(R.scim_id.in_(gone))
                        .order_by(R.scim_id)
                        .with_for_update()
                    )
                lock_in_key_order(conn, S.scim_id.in_(gone))
                conn.execute(delete(sync_state).where(S.scim_id.in_(gone)))
                conn.execute(delete(resources).where(R.scim_id.in_(gone)))
        return len(gone)

    def count_destructive(self, target: str, now: datetime) -> tuple[int, int]:
        """Due deletes and disables of resources the target already holds."""
        due = self._due_filter(target, now)
        with reading(self._engine) as conn:
            deletes = conn.execute(select(func.count()).where(due, self._deleting())).scalar_one()
            disables = conn.execute(select(func.count()).where(due, self._disabling())).scalar_one()
        return int(deletes), int(disables)

    def count_destructive_applied(self, target: str, since: datetime) -> tuple[int, int]:
        """Deletes and disables the target applied after ``since`` and after the last approved
        hold there closed, read from the audit events the run loop writes with each outcome
        (range of the ``at`` index: the window's events only)."""
        released = (
            select(func.max(holds.c.closed_at))
            .where(holds.c.target == target, holds.c.approved_at.is_not(None))
            .scalar_subquery()
        )
        A = audit.c
        query = (
            select(A.operation, func.count())
            .where(
                A.at > since,
                A.actor == f"target:{target}",
                A.outcome == SyncStatus.APPLIED.value,
                A.operation.in_([Action.DELETED.value, Action.DISABLED.value]),
                or_(released.is_(None), A.at > released),
            )
            .group_by(A.operation)
        )
        with reading(self._engine) as conn:
            counts = {operation: int(n) for operation, n in conn.execute(query)}
        return counts.get(Action.DELETED.value, 0), counts.get(Action.DISABLED.value, 0)

    def mark_held(self, target: str, now: datetime) -> int:
        """Show the held deletes and disables as such until an operator approves them;
        returns how many are held now."""
        held = and_(self._due_filter(target, now), or_(self._deleting(), self._disabling()))
        with self._engine.begin() as conn:
            lock_in_key_order(conn, held)
            conn.execute(
                update(sync_state).where(held).values(status=SyncStatus.HELD.value, updated_at=now)
            )
            return int(
                conn.execute(
                    select(func.count()).where(
                        S.target == target, S.status == SyncStatus.HELD.value
                    )
                ).scalar_one()
            )

    def next_wakeup(self) -> datetime | None:
        """The earliest moment a waiting retry, or a lapsed claim, becomes due."""
        behind = and_(
            S.observed_generation < S.desired_generation,
            S.status.not_in([SyncStatus.DEAD.value, SyncStatus.HELD.value]),
        )
        with reading(self._engine) as conn:
            retry = conn.execute(select(func.min(S.next_attempt_at)).where(behind)).scalar()
            lease = conn.execute(select(func.min(S.claimed_until)).where(behind)).scalar()
        moments = [m for m in (retry, lease) if m is not None]
        return min(moments) if moments else None

    # ---- drift repair (reconcile.full.DriftBook) -------------------------------------

    def applied_ids(self, target: str) -> Iterator[str]:
        query = (
            select(S.scim_id)
            .where(S.target == target, S.observed_generation > 0, S.phase.in_([USER, GROUP]))
            .order_by(S.scim_id)
        )
        with reading(self._engine) as conn:
            yield from conn.execution_options(yield_per=1000).execute(query).scalars()

    def live_names(self, kind: ResourceKind) -> Iterator[tuple[str, str]]:
        """Streamed in key order; the caller folds the names as its target compares them."""
        name = R.data["userName"].as_string() if kind is ResourceKind.USER else R.display_name
        query = (
            select(R.scim_id, name)
            .where(R.kind == kind.value, R.deleted_at.is_(None))
            .order_by(R.scim_id)
        )
        with reading(self._engine) as conn:
            for scim_id, staged in conn.execution_options(yield_per=1000).execute(query):
                yield scim_id, staged or ""

    def mark_drifted(self, target: str, scim_ids: Sequence[str], now: datetime) -> None:
        drifted = and_(S.target == target, S.scim_id.in_(sorted(set(scim_ids))))
        with self._engine.begin() as conn:
            lock_in_key_order(conn, drifted)
            conn.execute(
                update(sync_state)
                .where(drifted)
                .values(
                    observed_generation=0,
                    status=SyncStatus.PENDING.value,
                    attempts=0,
                    next_attempt_at=None,
                    updated_at=now,
                )
            )

    def count_managed(self, target: str) -> int:
        with reading(self._engine) as conn:
            return int(
                conn.execute(
                    select(func.count()).where(S.target == target, S.observed_generation > 0)
                ).scalar_one()
            )
