"""The reconciler's view of staging: desired state per resource and the per-target ledger.

Implements :class:`reconcile.ports.DesiredStateSource` and :class:`reconcile.ports.SyncLedger`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)

from inbound.schema import ENTERPRISE_SCHEMA
from inbound.staging.tables import members, resources, sync_state
from reconcile.model import (
    Desired,
    DesiredGroup,
    DesiredIdentity,
    MemberRef,
    ResourceKind,
    Tombstone,
)
from reconcile.ports import Outcome, SyncStatus, WorkItem

R = resources.c
S = sync_state.c
M = members.c


def work_email(data: dict[str, Any]) -> str | None:
    """The Identity Manager's email: the work address, else the primary one (seed rule)."""
    emails = [e for e in data.get("emails") or [] if isinstance(e, dict) and e.get("value")]
    for email in emails:
        if str(email.get("type", "")).lower() == "work":
            return str(email["value"])
    for email in emails:
        if email.get("primary") is True:
            return str(email["value"])
    return None


def desired_identity(
    scim_id: str, generation: int, data: dict[str, Any], manager_user_id: str | None
) -> DesiredIdentity:
    name = data.get("name") or {}
    ext = data.get(ENTERPRISE_SCHEMA) or {}
    manager = ext.get("manager") or {}
    return DesiredIdentity(
        scim_id=scim_id,
        generation=generation,
        user_id=data["userName"],
        active=data.get("active", True) is not False,
        external_id=data.get("externalId"),
        email=work_email(data),
        given_name=name.get("givenName"),
        family_name=name.get("familyName"),
        display_name=data.get("displayName"),
        title=data.get("title"),
        department=ext.get("department"),
        employee_number=ext.get("employeeNumber"),
        manager_scim_id=manager.get("value"),
        manager_user_id=manager_user_id,
    )


@dataclass(frozen=True, slots=True)
class TargetState:
    """One resource's sync state on one target, as operators see it."""

    target: str
    status: str
    observed_generation: int
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    anchor: str | None


def effective_status(generation: Any) -> Any:
    """applied / skipped / dead / retrying / pending, judged against the staged generation."""
    return case(
        (S.scim_id.is_(None), literal(SyncStatus.PENDING.value)),
        (
            and_(S.status == SyncStatus.SKIPPED.value, S.observed_generation >= generation),
            literal(SyncStatus.SKIPPED.value),
        ),
        (S.observed_generation >= generation, literal(SyncStatus.APPLIED.value)),
        (
            and_(S.status == SyncStatus.DEAD.value, S.attempted_generation >= generation),
            literal(SyncStatus.DEAD.value),
        ),
        (S.status == SyncStatus.RETRYING.value, literal(SyncStatus.RETRYING.value)),
        else_=literal(SyncStatus.PENDING.value),
    )


class StagingLedger:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # ---- DesiredStateSource ------------------------------------------------------------

    def load(self, scim_ids: Sequence[str]) -> dict[str, Desired]:
        out: dict[str, Desired] = {}
        if not scim_ids:
            return out
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(R.scim_id, R.kind, R.generation, R.deleted_at, R.data).where(
                    R.scim_id.in_(scim_ids)
                )
            ).all()
            managers = {
                (row.data.get(ENTERPRISE_SCHEMA) or {}).get("manager", {}).get("value")
                for row in rows
                if row.kind == "User" and row.deleted_at is None
            } - {None}
            manager_ids: dict[str, str] = (
                dict(
                    conn.execute(
                        select(R.scim_id, R.data["userName"].as_string()).where(
                            R.scim_id.in_(managers), R.deleted_at.is_(None)
                        )
                    ).all()
                )
                if managers
                else {}
            )
            groups = [r.scim_id for r in rows if r.kind == "Group" and r.deleted_at is None]
            group_members: dict[str, set[MemberRef]] = {g: set() for g in groups}
            if groups:
                for group_id, member_id, user_name in conn.execute(
                    select(M.group_id, M.member_id, R.data["userName"].as_string())
                    .join(resources, R.scim_id == M.member_id)
                    .where(M.group_id.in_(groups), M.member_type == "User", R.deleted_at.is_(None))
                ):
                    group_members[group_id].add(MemberRef(member_id, user_name))
        for row in rows:
            kind = ResourceKind(row.kind)
            if row.deleted_at is not None:
                name = row.data.get("userName" if kind is ResourceKind.USER else "displayName", "")
                out[row.scim_id] = Tombstone(row.scim_id, row.generation, kind, str(name))
            elif kind is ResourceKind.USER:
                manager = (row.data.get(ENTERPRISE_SCHEMA) or {}).get("manager") or {}
                out[row.scim_id] = desired_identity(
                    row.scim_id,
                    row.generation,
                    row.data,
                    manager_ids.get(str(manager.get("value"))),
                )
            else:
                out[row.scim_id] = DesiredGroup(
                    scim_id=row.scim_id,
                    generation=row.generation,
                    display_name=row.data["displayName"],
                    external_id=row.data.get("externalId"),
                    members=frozenset(group_members[row.scim_id]),
                )
        return out

    # ---- SyncLedger --------------------------------------------------------------------

    def due(self, target: str, now: datetime, limit: int) -> list[WorkItem]:
        # Group deletes, then user deletes (a user ID freed by a delete can be reused by a
        # create in the same run), then users, then the groups that hold them.
        phase = case(
            (and_(R.deleted_at.is_not(None), R.kind == "Group"), 0),
            (R.deleted_at.is_not(None), 1),
            (R.kind == "User", 2),
            else_=3,
        )
        query = (
            select(
                R.scim_id,
                R.kind,
                R.generation,
                R.deleted_at.is_not(None),
                S.anchor,
                func.coalesce(S.attempts, 0),
            )
            .select_from(
                resources.outerjoin(sync_state, and_(S.scim_id == R.scim_id, S.target == target))
            )
            .where(
                or_(
                    S.scim_id.is_(None),
                    and_(
                        S.observed_generation < R.generation,
                        or_(S.next_attempt_at.is_(None), S.next_attempt_at <= now),
                        or_(
                            S.status != SyncStatus.DEAD.value, S.attempted_generation < R.generation
                        ),
                    ),
                )
            )
            .order_by(phase, R.updated_at, R.scim_id)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [
                WorkItem(scim_id, ResourceKind(kind), generation, bool(deleted), anchor, attempts)
                for scim_id, kind, generation, deleted, anchor, attempts in conn.execute(query)
            ]

    def record_many(
        self, target: str, outcomes: Sequence[tuple[WorkItem, Outcome]], now: datetime
    ) -> None:
        if not outcomes:
            return
        with self._engine.begin() as conn:
            for item, outcome in outcomes:
                self._record(conn, target, item, outcome, now)

    def record(self, target: str, item: WorkItem, outcome: Outcome, now: datetime) -> None:
        self.record_many(target, [(item, outcome)], now)

    @staticmethod
    def _record(
        conn: Connection, target: str, item: WorkItem, outcome: Outcome, now: datetime
    ) -> None:
        values: dict[str, Any] = {
            "status": outcome.status.value,
            "attempted_generation": item.generation,
            "anchor": outcome.anchor,
            "attempts": outcome.attempts,
            "next_attempt_at": outcome.next_attempt_at,
            "last_error": outcome.last_error,
            "updated_at": now,
        }
        if outcome.observed_generation is not None:
            observed = outcome.observed_generation
            values["observed_generation"] = case(
                (S.observed_generation > observed, S.observed_generation), else_=observed
            )
        changed = conn.execute(
            update(sync_state).where(S.target == target, S.scim_id == item.scim_id).values(**values)
        ).rowcount
        if not changed:
            conn.execute(
                insert(sync_state).values(
                    target=target,
                    scim_id=item.scim_id,
                    observed_generation=outcome.observed_generation or 0,
                    **{k: v for k, v in values.items() if k != "observed_generation"},
                )
            )

    def forget_fully_deleted(self, targets: Iterable[str]) -> int:
        names = list(targets)
        observed = (
            select(func.count())
            .where(
                S.scim_id == R.scim_id,
                S.target.in_(names),
                S.observed_generation >= R.generation,
            )
            .scalar_subquery()
        )
        with self._engine.begin() as conn:
            gone = list(
                conn.execute(
                    select(R.scim_id).where(R.deleted_at.is_not(None), observed >= len(names))
                ).scalars()
            )
            if gone:
                conn.execute(delete(sync_state).where(S.scim_id.in_(gone)))
                conn.execute(delete(resources).where(R.scim_id.in_(gone)))
        return len(gone)

    # ---- operators' view ---------------------------------------------------------------

    def states_of(self, scim_id: str, targets: Sequence[str]) -> list[TargetState]:
        with self._engine.connect() as conn:
            generation = conn.execute(select(R.generation).where(R.scim_id == scim_id)).scalar()
            rows = {
                row.target: row
                for row in conn.execute(select(sync_state).where(S.scim_id == scim_id))
            }
        out = []
        for target in targets:
            row = rows.get(target)
            if row is None:
                out.append(TargetState(target, SyncStatus.PENDING.value, 0, 0, None, None, None))
                continue
            status = row.status
            if (
                generation is not None
                and row.observed_generation < generation
                and status
                in (
                    SyncStatus.APPLIED.value,
                    SyncStatus.SKIPPED.value,
                )
            ):
                status = SyncStatus.PENDING.value
            out.append(
                TargetState(
                    target,
                    status,
                    row.observed_generation,
                    row.attempts,
                    row.next_attempt_at,
                    row.last_error,
                    row.anchor,
                )
            )
        return out

    def summary(self, target: str, now: datetime) -> dict[str, Any]:
        status = effective_status(R.generation).label("status")
        joined = resources.outerjoin(sync_state, and_(S.scim_id == R.scim_id, S.target == target))
        with self._engine.connect() as conn:
            counts: dict[str, int] = dict(
                conn.execute(
                    select(status, func.count()).select_from(joined).group_by(status)
                ).all()
            )
            oldest = conn.execute(
                select(func.min(R.updated_at))
                .select_from(joined)
                .where(status.in_([SyncStatus.PENDING.value, SyncStatus.RETRYING.value]))
            ).scalar()
            last = conn.execute(select(func.max(S.updated_at)).where(S.target == target)).scalar()
        if isinstance(oldest, str):
            oldest = datetime.fromisoformat(oldest)
        out: dict[str, Any] = {s.value: int(counts.get(s.value, 0)) for s in SyncStatus}
        out["oldest_pending_seconds"] = (
            round((now - oldest.replace(tzinfo=now.tzinfo)).total_seconds(), 3) if oldest else None
        )
        out["last_applied_at"] = last.isoformat() if last is not None else None
        return out

    def dead_letters(self, target: str | None = None) -> list[dict[str, Any]]:
        query = (
            select(S.target, S.scim_id, R.kind, R.name_key, S.attempts, S.last_error, S.updated_at)
            .join(resources, R.scim_id == S.scim_id)
            .where(
                S.status == SyncStatus.DEAD.value,
                S.attempted_generation >= R.generation,
                S.observed_generation < R.generation,
            )
            .order_by(S.updated_at)
        )
        if target is not None:
            query = query.where(S.target == target)
        with self._engine.connect() as conn:
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

    def retry_dead(self, scim_id: str | None, target: str | None = None) -> int:
        """Put dead letters back in line (one, or all when ``scim_id`` is None)."""
        query = update(sync_state).where(S.status == SyncStatus.DEAD.value)
        if scim_id is not None:
            query = query.where(S.scim_id == scim_id)
        if target is not None:
            query = query.where(S.target == target)
        with self._engine.begin() as conn:
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

    def skip_dead(self, scim_id: str, target: str | None = None) -> int:
        """Accept that a target will not hold this generation; a newer one is tried again."""
        generation = select(R.generation).where(R.scim_id == S.scim_id).scalar_subquery()
        query = update(sync_state).where(S.status == SyncStatus.DEAD.value, S.scim_id == scim_id)
        if target is not None:
            query = query.where(S.target == target)
        with self._engine.begin() as conn:
            return int(
                conn.execute(
                    query.values(status=SyncStatus.SKIPPED.value, observed_generation=generation)
                ).rowcount
            )
