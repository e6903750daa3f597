"""Faults with real processes: SIGKILLed workers, two workers at once, dropped connections.

Every test stages work in-process, runs ``scim-sync worker`` as a child process, and waits on
what the worker logs. Nothing sleeps; nothing is lost; nothing is applied twice.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select

from connectors.identity_store.tables import identities
from inbound.database.store import Actor
from inbound.database.tables import audit, sync_state
from inbound.schema import USER_TYPE
from scheduler.composition import Runtime, compose
from scheduler.settings import Settings
from tests.support import entra_user
from tests.support.postgres import PG_DSN
from tests.support.processes import Event, ServiceProcess

pytestmark = pytest.mark.slow


@pytest.fixture
def staged(database_url: str) -> Iterator[Runtime]:
    runtime = compose(Settings(database_url=database_url))
    try:
        yield runtime
    finally:
        runtime.dispose()


def stage(runtime: Runtime, count: int, prefix: str) -> list[str]:
    actor = Actor("fault-test")
    return [
        runtime.store.create(
            USER_TYPE, entra_user(f"{prefix}{i:05d}", active=i % 7 != 0), actor
        ).scim_id
        for i in range(count)
    ]


def worker(tmp_path: Path, database_url: str) -> ServiceProcess:
    env = {"SCIM_SYNC_DATABASE_URL": database_url, "SCIM_SYNC_RECONCILE_INTERVAL": "1h"}
    return ServiceProcess(["worker"], cwd=tmp_path, env=env)


def counting(limit: int) -> Callable[[Event], bool]:
    """True after ``limit`` applies, or when the worker finished everything first."""
    seen = {"applied": 0}

    def predicate(event: Event) -> bool:
        if event.get("event") == "resource applied":
            seen["applied"] += 1
        return seen["applied"] >= limit or event.get("event") == "reconcile finished"

    return predicate


def finished(event: Event) -> bool:
    return event.get("event") == "reconcile finished"


def logged(process: ServiceProcess) -> list[Event]:
    """Everything the stopped process logged, also what no ``wait_for`` has looked at yet."""
    while not process.events.empty():
        process.seen.append(process.events.get_nowait())
    return process.seen


def converged(runtime: Runtime) -> dict[str, Any]:
    with runtime.database_engine.connect() as conn:
        behind = conn.execute(
            select(func.count()).where(
                sync_state.c.observed_generation < sync_state.c.desired_generation
            )
        ).scalar_one()
        claimed = conn.execute(
            select(func.count()).where(sync_state.c.claimed_by.is_not(None))
        ).scalar_one()
    with runtime.idm_engine.connect() as conn:
        rows = conn.execute(select(identities.c.scim_id, identities.c.active)).all()
    return {"behind": behind, "claimed": claimed, "rows": rows}


def test_sigkill_at_random_points_loses_and_duplicates_nothing(
    staged: Runtime, database_url: str, tmp_path: Path
) -> None:
    count = 10_000 if database_url.startswith("sqlite") else 3_000
    ids = stage(staged, count, "k")
    rng = random.Random(20261130)
    for _ in range(10):
        victim = worker(tmp_path, database_url)
        victim.wait_for(counting(rng.randint(1, count // 15)), timeout=300)
        victim.kill()
    survivor = worker(tmp_path, database_url)
    try:
        survivor.wait_for(finished, timeout=600)
    finally:
        survivor.stop()
    state = converged(staged)
    assert state["behind"] == 0 and state["claimed"] == 0
    scim_ids = [row.scim_id for row in state["rows"]]
    assert len(scim_ids) == len(set(scim_ids)) == count  # nothing duplicated
    assert set(scim_ids) == set(ids)  # nothing lost
    inactive = sum(1 for row in state["rows"] if not row.active)
    assert inactive == len([i for i in range(count) if i % 7 == 0])


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_two_workers_apply_each_change_once(
    staged: Runtime, database_url: str, tmp_path: Path
) -> None:
    """On PostgreSQL; SQLite runs one worker process (docs/architecture.md)."""
    ids = stage(staged, 2_000, "w")
    first, second = worker(tmp_path, database_url), worker(tmp_path, database_url)
    try:
        first.wait_for(finished, timeout=300)
        second.wait_for(finished, timeout=300)
        while converged(staged)["behind"]:
            (first if first.proc.poll() is None else second).wait_for(finished, timeout=300)
    finally:
        first.stop()
        second.stop()
    with staged.database_engine.connect() as conn:
        per_resource: dict[str, int] = dict(
            conn.execute(
                select(audit.c.scim_id, func.count())
                .where(audit.c.actor == "target:identity_store")
                .group_by(audit.c.scim_id)
            ).all()
        )
    assert set(per_resource) == set(ids)
    assert set(per_resource.values()) == {1}  # applied exactly once each
    logs = [logged(w) for w in (first, second)]
    applied_by = [sum(1 for e in log if e.get("event") == "resource applied") for log in logs]
    assert sum(applied_by) == 2_000
    for log in logs:  # a clean run: no deadlock between the workers, no run redone
        assert not [e for e in log if e.get("event") == "reconcile run failed"]
        assert not [e for e in log if "deadlock detected" in json.dumps(e)]
        assert not [e for e in log if e.get("level") == "error"]


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_dropped_database_connections_are_retried(
    staged: Runtime, database_url: str, tmp_path: Path
) -> None:
    app = f"fault-{uuid.uuid4().hex[:8]}"
    url = f"{database_url}&application_name={app}"
    stage(staged, 1_500, "d")
    victim = worker(tmp_path, url)
    try:
        victim.wait_for(counting(200), timeout=300)
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            killed = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (app,),
            ).fetchone()
        assert killed is not None and killed[0] > 0
        while converged(staged)["behind"]:
            victim.wait_for(finished, timeout=300)
    finally:
        victim.stop()
    assert victim.proc.returncode in (0, -15)
    assert len(converged(staged)["rows"]) == 1_500
