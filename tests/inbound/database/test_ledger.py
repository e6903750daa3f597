"""The ledger's claims, leases, brake holds and audit, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import select, text

from inbound.database.ledger import StagingLedger
from inbound.database.tables import audit, sync_state
from reconcile.policy import MassChangeBrake
from reconcile.ports import Outcome, SyncStatus
from reconcile.runner import Reconciler
from scheduler.composition import Runtime
from tests.support import FakeClock, patch_body
from tests.support.scim_client import create_user as create

TARGET = "identity_store"


def test_two_workers_claim_disjoint_work(
    client: TestClient[Any], runtime: Runtime, clock: FakeClock
) -> None:
    ids = {create(client, f"c{i}")["id"] for i in range(40)}
    first = StagingLedger(runtime.database_engine, worker_id="w1")
    second = StagingLedger(runtime.database_engine, worker_id="w2")
    got: dict[str, list[str]] = {}

    def take(ledger: StagingLedger) -> None:
        got[ledger.worker_id] = [i.scim_id for i in ledger.claim(TARGET, clock(), 25)]

    threads = [threading.Thread(target=take, args=(ledger,)) for ledger in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not set(got["w1"]) & set(got["w2"])
    assert set(got["w1"]) | set(got["w2"]) == ids
    assert second.claim(TARGET, clock(), 100) == [
        i for i in second.claim(TARGET, clock(), 100) if i.scim_id in got["w2"]
    ]


def test_a_dead_workers_claims_lapse(
    client: TestClient[Any], runtime: Runtime, clock: FakeClock
) -> None:
    create(client, "lapsed")
    crashed = StagingLedger(runtime.database_engine, worker_id="crashed")
    survivor = StagingLedger(runtime.database_engine, worker_id="survivor")
    assert len(crashed.claim(TARGET, clock(), 10)) == 1
    assert survivor.claim(TARGET, clock(), 10) == []
    clock.advance(301)
    assert len(survivor.claim(TARGET, clock(), 10)) == 1


def test_recording_releases_the_claim_and_audits(
    client: TestClient[Any], runtime: Runtime, clock: FakeClock
) -> None:
    user = create(client, "audited")
    runtime.reconciler.run_once()
    with runtime.database_engine.connect() as conn:
        rows = conn.execute(
            select(audit.c.actor, audit.c.operation, audit.c.outcome, audit.c.generation).where(
                audit.c.scim_id == user["id"]
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("token:" + rows[0][0].split(":", 1)[1], "create", "ok", 1),
        (f"target:{TARGET}", "created", "applied", 1),
    ]


def test_ensure_rows_backfills_a_new_target(
    client: TestClient[Any], runtime: Runtime, clock: FakeClock
) -> None:
    create(client, "early1")
    create(client, "early2")
    ledger = runtime.ledger
    assert ledger.claim("new_target", clock(), 10) == []
    assert ledger.ensure_rows(["new_target"], clock()) == 2
    assert ledger.ensure_rows(["new_target"], clock()) == 0
    assert len(ledger.claim("new_target", clock(), 10)) == 2


def brake_runtime(runtime: Runtime, clock: FakeClock) -> Reconciler:
    return Reconciler(
        runtime.desired,
        runtime.ledger,
        runtime.targets,
        clock=clock,
        brake=MassChangeBrake(max_count=3, max_share=1.0),
    )


def test_mass_disable_is_held_until_approved(
    client: TestClient[Any], runtime: Runtime, clock: FakeClock
) -> None:
    users = [create(client, f"m{i}") for i in range(5)]
    reconciler = brake_runtime(runtime, clock)
    reconciler.run_once()
    for user in users:
        client.patch(
            f"/scim/v2/Users/{user['id']}",
            json=patch_body({"op": "Replace", "path": "active", "value": "False"}),
        )
    keeper = create(client, "newcomer")
    report = reconciler.run_once().targets[0]
    assert report.held == 5
    assert report.actions == {"created": 1}  # other work goes on
    assert all(runtime.identity_record(f"m{i}")["active"] for i in range(5))  # type: ignore[index]
    holds = runtime.ledger.holds()
    assert [(h["target"], h["disables"], h["deletes"]) for h in holds] == [(TARGET, 5, 0)]
    assert runtime.ledger.summary(TARGET, clock())["held"] == 5
    assert reconciler.run_once().targets[0].held == 5  # still held, no new hold
    assert len(runtime.ledger.holds()) == 1
    assert runtime.ledger.approve_hold(holds[0]["id"], "admin", clock()) == 1
    report = reconciler.run_once().targets[0]
    assert report.actions == {"disabled": 5} and report.held == 0
    assert not any(runtime.identity_record(f"m{i}")["active"] for i in range(5))  # type: ignore[index]
    assert runtime.ledger.holds() == []
    assert keeper["id"]


def test_small_changes_pass_the_brake(
    client: TestClient[Any], runtime: Runtime, clock: FakeClock
) -> None:
    users = [create(client, f"s{i}") for i in range(3)]
    reconciler = brake_runtime(runtime, clock)
    reconciler.run_once()
    for user in users:
        client.delete(f"/scim/v2/Users/{user['id']}")
    report = reconciler.run_once().targets[0]
    assert report.held == 0 and report.actions == {"deleted": 3}


def test_dead_letter_skip_and_retry(
    runtime: Runtime, client: TestClient[Any], clock: FakeClock
) -> None:
    user = create(client, "deadly")
    item = runtime.ledger.claim(TARGET, clock(), 10)[0]
    runtime.ledger.record(
        TARGET, item, Outcome(SyncStatus.DEAD, None, None, 1, None, "refused"), clock()
    )
    assert [d["scim_id"] for d in runtime.ledger.dead_letters()] == [user["id"]]
    assert runtime.reconciler.run_once().targets[0].applied == 0
    assert runtime.ledger.retry_dead(user["id"]) == 1
    assert runtime.reconciler.run_once().targets[0].actions == {"created": 1}
    assert runtime.ledger.dead_letters() == []


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_recording_overlapping_batches_in_opposite_orders_cannot_deadlock(
    client: TestClient[Any], runtime: Runtime, clock: FakeClock
) -> None:
    """Two workers record outcomes for overlapping rows, listed in opposite orders.

    A third connection holds the lock on the middle row, so both recorders are forced to
    reach it at the same time: before ledger writes were ordered by key, the first held ``a``
    and the second ``b`` while both waited there, and once it was released each waited for
    the other (``deadlock detected``). Ordering is the only thing that can save them here."""
    a, b, middle = sorted(create(client, f"dl{i}")["id"] for i in range(3))
    items = {i.scim_id: i for i in runtime.ledger.claim(TARGET, clock(), 10)}
    applied = Outcome(SyncStatus.APPLIED, 1, None, 0, None, None)
    first = StagingLedger(runtime.database_engine, worker_id="w1")
    second = StagingLedger(runtime.database_engine, worker_id="w2")
    errors: list[BaseException] = []

    def record(ledger: StagingLedger, order: list[str]) -> None:
        try:
            ledger.record_many(TARGET, [(items[i], applied) for i in order], clock())
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    with runtime.database_engine.connect() as blocker:
        blocker.execute(
            select(sync_state.c.scim_id).where(sync_state.c.scim_id == middle).with_for_update()
        )
        blocker_pid = blocker.execute(text("SELECT pg_backend_pid()")).scalar_one()
        threads = [
            threading.Thread(target=record, args=(first, [a, middle, b])),
            threading.Thread(target=record, args=(second, [b, middle, a])),
        ]
        for queued, thread in enumerate(threads, start=1):
            thread.start()
            wait_until_blocked(runtime, blocker_pid, queued)
        blocker.rollback()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with runtime.database_engine.connect() as conn:
        observed = conn.execute(
            select(sync_state.c.observed_generation).where(sync_state.c.scim_id.in_([a, b, middle]))
        ).scalars()
        assert set(observed) == {1}


def wait_until_blocked(runtime: Runtime, blocker_pid: int, count: int) -> None:
    """Poll (bounded) until ``count`` sessions wait, directly or not, on ``blocker_pid``."""
    deadline = time.monotonic() + 30
    with runtime.database_engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting: dict[int, list[int]] = dict(
                conn.execute(
                    text(
                        "SELECT pid, pg_blocking_pids(pid) FROM pg_stat_activity "
                        "WHERE wait_event_type = 'Lock'"
                    )
                ).all()
            )
            behind, grew = {blocker_pid}, True
            while grew:
                more = {pid for pid, by in waiting.items() if set(by) & behind} - behind
                behind |= more
                grew = bool(more)
            if len(behind) - 1 >= count:
                return
            conn.rollback()
    raise AssertionError(f"{count} recorders never queued behind the held row lock")
