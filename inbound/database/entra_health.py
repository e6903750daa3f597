"""What scim-sync knows of Entra's side: the provisioning job's health and a bounded copy of
Entra's provisioning log, joined with our own audit trail.

The state lives in the staging database, not in the polling process, so every web and worker
process shows the same job state and metrics, and a restarted worker resumes the log where its
predecessor stopped (``logs_watermark``) and keeps its backoff. Rows are plain mappings because
``inbound`` must not import the Graph connector that reads them; ``scheduler`` passes them on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, func, insert, or_, select, update

from inbound.database.audit import ENTRA_ACTOR_PREFIX
from inbound.database.entra_tables import entra_health, entra_provisioning_log
from inbound.database.tables import audit, reading, resources

H = entra_health.c
P = entra_provisioning_log.c
A = audit.c
R = resources.c
Clock = Callable[[], datetime]
ROW = "job"
JOB_FIELDS = (
    "job_id",
    "state",
    "quarantine_reason",
    "quarantine_since",
    "quarantine_current_began",
    "quarantine_next_attempt",
    "last_execution_at",
    "last_execution_state",
    "last_successful_at",
    "last_successful_with_exports_at",
    "successive_failures",
    "steady_state_first_at",
    "steady_state_last_at",
)
NEVER_REACHED_US = "never reached us"
REACHED_WINDOW = timedelta(minutes=10)
"""How far apart Entra's log time and our audit time of one request may be: Entra stamps the
entry when its export finished, clocks differ, and retries stretch one export over minutes."""
TIMELINE_LIMIT = 200
AUDIT_LOOK_BACK = 1000
"""Our newest SCIM writes of one resource searched for a match (times compared in Python:
SQLite keeps timestamps as text)."""
_CHUNK = 500


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


class EntraHealthStore:
    def __init__(self, engine: Engine, *, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def state(self) -> dict[str, Any] | None:
        with reading(self._engine) as conn:
            row = conn.execute(select(entra_health).where(H.name == ROW)).first()
        return dict(row._mapping) if row is not None else None

    def _write(self, **values: Any) -> None:
        values["updated_at"] = self._clock()
        with self._engine.begin() as conn:
            done = conn.execute(update(entra_health).where(H.name == ROW).values(**values))
            if done.rowcount == 0:
                conn.execute(insert(entra_health).values(name=ROW, **values))

    def record_job(self, job: Mapping[str, Any] | None) -> None:
        """A successful read; None: the service principal has no provisioning job yet."""
        values: dict[str, Any] = dict.fromkeys(JOB_FIELDS)
        values["successive_failures"] = 0
        if job is None:
            values["state"] = "not configured"
        else:
            values.update({name: job.get(name) for name in JOB_FIELDS})
            values["successive_failures"] = job.get("successive_failures") or 0
        self._write(**values, job_read_at=self._clock(), job_problem=None)

    def record_job_problem(self, problem: str) -> None:
        self._write(job_problem=problem[:2000])

    def record_logs_problem(self, problem: str) -> None:
        self._write(logs_problem=problem[:2000])

    def record_poll(self, attempts: int, next_poll_at: datetime | None) -> None:
        self._write(attempts=attempts, next_poll_at=next_poll_at)

    def record_logs(self, entries: Sequence[Mapping[str, Any]]) -> int:
        """Keep the entries not kept yet; returns how many were new. The watermark moves to
        the newest time read, and the next read starts there (``ge``, so entries sharing that
        second are read again and skipped here by id, never lost)."""
        added = 0
        with self._engine.begin() as conn:
            for start in range(0, len(entries), _CHUNK):
                chunk = entries[start : start + _CHUNK]
                ids = [entry["id"] for entry in chunk]
                known = set(conn.execute(select(P.id).where(P.id.in_(ids))).scalars())
                fresh = {e["id"]: dict(e) for e in chunk if e["id"] not in known}
                if fresh:
                    conn.execute(insert(entra_provisioning_log), list(fresh.values()))
                    added += len(fresh)
        newest = max((entry["at"] for entry in entries), default=None)
        watermark = self.watermark()
        if newest is not None and (watermark is None or newest > watermark):
            watermark = newest
        self._write(logs_read_at=self._clock(), logs_problem=None, logs_watermark=watermark)
        return added

    def watermark(self) -> datetime | None:
        state = self.state()
        return state["logs_watermark"] if state else None

    def prune(self, older_than: datetime) -> int:
        """The retention bound: entries older than this go."""
        with self._engine.begin() as conn:
            return int(
                conn.execute(delete(entra_provisioning_log).where(P.at < older_than)).rowcount or 0
            )

    def failure_counts(self) -> list[tuple[str, str, int]]:
        """(action, error code, entries) of the failures kept, for the metric."""
        query = (
            select(P.action, P.error_code, func.count())
            .where(P.status == "failure")
            .group_by(P.action, P.error_code)
            .order_by(P.action, P.error_code)
        )
        with reading(self._engine) as conn:
            return [(str(a), str(c or ""), int(n)) for a, c, n in conn.execute(query)]

    def report(self) -> dict[str, Any] | None:
        """The ``entra`` object of ``status``; None while Entra is not watched."""
        state = self.state()
        if state is None:
            return None
        out = {key: _iso(value) for key, value in state.items() if key != "name"}
        out["quarantined"] = state["state"] == "quarantine"
        return out

    def timeline(self, scim_id: str, limit: int = TIMELINE_LIMIT) -> list[dict[str, Any]]:
        """Entra's entries about one staged resource, newest first, each joined with our audit.

        An entry matches when its target identity is our ``scim_id``, or its source identity
        is the resource's ``externalId`` (Entra's object id by default: a create Entra could
        not finish has no target id).
        ``our_request`` is the SCIM write we audited for that resource closest in time; a
        failed entry without one is flagged ``never reached us``: Entra could not reach this
        service, as opposed to a request this service answered.
        """
        with reading(self._engine) as conn:
            external_id = conn.execute(select(R.external_id).where(R.scim_id == scim_id)).scalar()
            match = P.target_id == scim_id
            if external_id:
                match = or_(match, P.source_id == external_id)
            rows = [
                dict(row._mapping)
                for row in conn.execute(
                    select(entra_provisioning_log)
                    .where(match)
                    .order_by(P.at.desc(), P.id)
                    .limit(limit)
                )
            ]
            if not rows:
                return []
            ours = [
                dict(event._mapping)
                for event in conn.execute(
                    select(A.at, A.operation, A.outcome, A.request_id, A.generation)
                    .where(A.scim_id == scim_id, A.actor.startswith(ENTRA_ACTOR_PREFIX))
                    .order_by(A.id.desc())
                    .limit(AUDIT_LOOK_BACK)
                )
            ]
        return [self._joined(row, ours) for row in rows]

    @staticmethod
    def _joined(row: dict[str, Any], ours: Iterable[dict[str, Any]]) -> dict[str, Any]:
        near = [e for e in ours if abs(e["at"] - row["at"]) <= REACHED_WINDOW]
        closest = min(near, key=lambda e: abs(e["at"] - row["at"]), default=None)
        out = {key: _iso(value) for key, value in row.items()}
        out["our_request"] = (
            {key: _iso(value) for key, value in closest.items()} if closest else None
        )
        out["flag"] = NEVER_REACHED_US if row["status"] == "failure" and closest is None else None
        return out
