"""The operators' view of the ledger: status counts, one resource's state per target, dead
letters and their replay, and mass-change holds awaiting approval."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, and_, case, func, insert, literal, select, update

from inbound.database.locks import lock_in_key_order
from inbound.database.service_tables import holds
from inbound.database.tables import reading, resources, sync_state, writing
from reconcile.ports import HoldDecision, SyncStatus

R = resources.c
S = sync_state.c
H = holds.c


@dataclass(frozen=True, slots=True)
class TargetState:
    """One resource's sync state on one target, as operators see it."""

    target: str
    status: str
    observed_generation: int
    desired_generation: int
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    anchor: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "status": self.status,
            "observed_generation": self.observed_generation,
            "desired_generation": self.desired_generation,
            "attempts": self.attempts,
            "next_attempt_at": self.next_attempt_at.isoformat() if self.next_attempt_at else None,
            "last_error": self.last_error,
        }


def sync_status(status: str, observed: int, desired: int, attempted: int) -> str:
    """The same judgement as :func:`effective_status`, for one row already read."""
    if observed >= desired:
        return SyncStatus.SKIPPED.value if status == SyncStatus.SKIPPED.value else "applied"
    if status == SyncStatus.DEAD.value and attempted >= desired:
        return SyncStatus.DEAD.value
    if status in (SyncStatus.RETRYING.value, SyncStatus.HELD.value):
        return status
    return SyncStatus.PENDING.value


def effective_status() -> Any:
    """applied / skipped / dead / retrying / held / pending, judged against the goal."""
    behind = S.observed_generation < S.desired_generation
    return case(
        (~behind & (S.status == SyncStatus.SKIPPED.value), literal(SyncStatus.SKIPPED.value)),
        (~behind, literal(SyncStatus.APPLIED.value)),
        (
            and_(S.status == SyncStatus.DEAD.value, S.attempted_generation >= S.desired_generation),
            literal(SyncStatus.DEAD.value),
        ),
        (S.status == SyncStatus.RETRYING.value, literal(SyncStatus.RETRYING.value)),
        (S.status == SyncStatus.HELD.value, literal(SyncStatus.HELD.value)),
        else_=literal(SyncStatus.PENDING.value),
    )


class HeldKind(StrEnum):
    """What a change held by the mass-change brake would do to the target."""

    DELETE = "delete"
    DISABLE = "disable"


def _age(now: datetime, moment: Any) -> float | None:
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=now.tzinfo)
    return float(round((now - moment).total_seconds(), 3))


class SyncStatusView:
    _engine: Engine

    def states_of(self, scim_id: str, targets: Sequence[str]) -> list[TargetState]:
        status = effective_status().label("effective")
        with reading(self._engine) as conn:
            rows = {
                row.target: row
                for row in conn.execute(
                    select(sync_state, status).where(S.scim_id == scim_id, S.target.in_(targets))
                )
            }
        return [
            TargetState(
                t,
                rows[t].effective,
                rows[t].observed_generation,
                rows[t].desired_generation,
                rows[t].attempts,
                rows[t].next_attempt_at,
                rows[t].last_error,
                rows[t].anchor,
            )
            if t in rows
            else TargetState(t, SyncStatus.PENDING.value, 0, 0, 0, None, None, None)
            for t in targets
        ]

    def summary(self, target: str, now: datetime) -> dict[str, Any]:
        """Counts per status, the age of the oldest change of each waiting status, and the
        held changes by kind (``delete`` / ``disable``).

        Ages are read per status in the same grouped query as the counts, so an age is never
        shown for a status that counts none: dead and held rows are behind too, but they wait
        for a person, not for a run, and have counts of their own.
        """
        status = effective_status().label("status")
        with reading(self._engine) as conn:
            grouped = conn.execute(
                select(status, func.count().label("n"), func.min(S.changed_at).label("oldest"))
                .where(S.target == target)
                .group_by(status)
            ).all()
            counts: dict[str, int] = {row.status: int(row.n) for row in grouped}
            oldest = {row.status: row.oldest for row in grouped}
            held = {kind.value: 0 for kind in HeldKind}
            if counts.get(SyncStatus.HELD.value):
                # The brake holds deletes (the resource is a tombstone) and disables.
                deleted = R.deleted_at.is_not(None)
                held.update(
                    (HeldKind.DELETE.value if is_delete else HeldKind.DISABLE.value, int(n))
                    for is_delete, n in conn.execute(
                        select(deleted, func.count())
                        .join(resources, R.scim_id == S.scim_id)
                        .where(S.target == target, S.status == SyncStatus.HELD.value)
                        .group_by(deleted)
                    )
                )
            last = conn.execute(
                select(func.max(S.updated_at)).where(
                    S.target == target, S.status == SyncStatus.APPLIED.value
                )
            ).scalar()
            last_error = conn.execute(
                select(S.last_error)
                .where(S.target == target, S.last_error.is_not(None))
                .order_by(S.updated_at.desc())
                .limit(1)
            ).scalar()
        out: dict[str, Any] = {s.value: counts.get(s.value, 0) for s in SyncStatus}
        out["oldest_pending_seconds"] = _age(now, oldest.get(SyncStatus.PENDING.value))
        out["oldest_retrying_seconds"] = _age(now, oldest.get(SyncStatus.RETRYING.value))
        out["held_changes"] = held
        out["last_applied_at"] = last.isoformat() if last is not None else None
        out["last_error"] = last_error
        return out

    def dead_letters(self, target: str | None = None) -> list[dict[str, Any]]:
        query = (
            select(S.target, S.scim_id, R.kind, R.name_key, S.attempts, S.last_error, S.updated_at)
            .join(resources, R.scim_id == S.scim_id)
            .where(
                S.status == SyncStatus.DEAD.value,
                S.attempted_generation >= S.desired_generation,
                S.observed_generation < S.desired_generation,
            )
            .order_by(S.updated_at)
        )
        if target is not None:
            query = query.where(S.target == target)
        with reading(self._engine) as conn:
            return [
                {
                    "target": t,
                    "scim_id": i,
                    "kind": k,
                    "name": n,
                    "attempts": a,
                    "reason": e,
                    "since": u.isoformat() if u else None,
                }
                for t, i, k, n, a, e, u in conn.execute(query)
            ]

    def retry_dead(
        self, scim_id: str | None, target: str | None = None, joined: Connection | None = None
    ) -> int:
        """Put dead letters back in line (one, or all when ``scim_id`` is None); ``joined``: the
        caller's transaction, as for every operator's change here (audited with it)."""
        chosen = [S.status == SyncStatus.DEAD.value]
        if scim_id is not None:
            chosen.append(S.scim_id == scim_id)
        if target is not None:
            chosen.append(S.target == target)
        query = update(sync_state).where(*chosen)
        with writing(self._engine, joined) as conn:
            lock_in_key_order(conn, *chosen)
            return int(
                conn.execute(
                    query.values(
                        status=SyncStatus.PENDING.value,
                        attempts=0,
                        attempted_generation=0,
                        next_attempt_at=None,
                    )
                ).rowcount
            )

    def skip_dead(
        self, scim_id: str, target: str | None = None, joined: Connection | None = None
    ) -> int:
        """Accept that a target will not hold this generation; a newer one is tried again."""
        query = update(sync_state).where(S.status == SyncStatus.DEAD.value, S.scim_id == scim_id)
        if target is not None:
            query = query.where(S.target == target)
        with writing(self._engine, joined) as conn:
            return int(
                conn.execute(
                    query.values(
                        status=SyncStatus.SKIPPED.value, observed_generation=S.desired_generation
                    )
                ).rowcount
            )

    # ---- mass-change holds -------------------------------------------------------------

    def open_hold(self, target: str) -> HoldDecision | None:
        with reading(self._engine) as conn:
            row = conn.execute(
                select(holds).where(H.target == target, H.closed_at.is_(None)).order_by(H.id)
            ).first()
        if row is None:
            return None
        return HoldDecision(
            row.id, row.deletes, row.disables, row.managed, row.approved_at is not None
        )

    def hold(self, target: str, deletes: int, disables: int, managed: int, now: datetime) -> int:
        with self._engine.begin() as conn:
            return int(
                conn.execute(
                    insert(holds)
                    .values(
                        target=target,
                        deletes=deletes,
                        disables=disables,
                        managed=managed,
                        detected_at=now,
                    )
                    .returning(H.id)
                ).scalar_one()
            )

    def close_hold(self, hold_id: int, now: datetime) -> None:
        with self._engine.begin() as conn:
            conn.execute(update(holds).where(H.id == hold_id).values(closed_at=now))

    def holds(self, open_only: bool = True) -> list[dict[str, Any]]:
        query = select(holds).order_by(H.id)
        if open_only:
            query = query.where(H.closed_at.is_(None))
        with reading(self._engine) as conn:
            return [
                {
                    "id": row.id,
                    "target": row.target,
                    "deletes": row.deletes,
                    "disables": row.disables,
                    "managed": row.managed,
                    "detected_at": row.detected_at.isoformat(),
                    "approved_at": row.approved_at.isoformat() if row.approved_at else None,
                    "approved_by": row.approved_by,
                    "closed_at": row.closed_at.isoformat() if row.closed_at else None,
                }
                for row in conn.execute(query)
            ]

    def approve_hold(
        self, hold_id: int | None, by: str, now: datetime, joined: Connection | None = None
    ) -> int:
        """Approve one open hold (or all): the next run applies the held deletes/disables."""
        query = select(H.id, H.target).where(H.closed_at.is_(None), H.approved_at.is_(None))
        if hold_id is not None:
            query = query.where(H.id == hold_id)
        with writing(self._engine, joined) as conn:
            chosen = conn.execute(query).all()
            for chosen_id, target in chosen:
                conn.execute(
                    update(holds).where(H.id == chosen_id).values(approved_at=now, approved_by=by)
                )
                held = (S.target == target, S.status == SyncStatus.HELD.value)
                lock_in_key_order(conn, *held)
                conn.execute(
                    update(sync_state)
                    .where(*held)
                    .values(status=SyncStatus.PENDING.value, updated_at=now)
                )
        return len(chosen)
