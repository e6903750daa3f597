"""Per-target facts the status counts do not carry: the newest error a target reported."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from inbound.database.tables import reading, sync_state
from reconcile.ports import SyncStatus

S = sync_state.c


@dataclass(frozen=True, slots=True)
class LastError:
    target: str
    scim_id: str
    status: str
    error: str
    at: datetime


class TargetOverview:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def last_errors(self, targets: Sequence[str]) -> dict[str, LastError]:
        """The newest error per target among resources still retrying or dead.

        Only those statuses keep an error worth showing; the (target, status) index keeps the
        look-up to the failing rows.
        """
        out: dict[str, LastError] = {}
        with reading(self._engine) as conn:
            for target in targets:
                row = conn.execute(
                    select(S.scim_id, S.status, S.last_error, S.updated_at)
                    .where(
                        S.target == target,
                        S.status.in_([SyncStatus.RETRYING.value, SyncStatus.DEAD.value]),
                        S.last_error.is_not(None),
                    )
                    .order_by(S.updated_at.desc())
                    .limit(1)
                ).first()
                if row is not None:
                    out[target] = LastError(target, row[0], row[1], row[2], row[3])
        return out
