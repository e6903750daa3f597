"""The ledger's claims, leases, brake holds and audit, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from typing import Any

from litestar.testing import TestClient
from sqlalchemy import select

from inbound.staging.ledger import StagingLedger
from inbound.staging.tables import audit
from reconcile.policy import MassChangeBrake
from reconcile.ports import Outcome, SyncStatus
from reconcile.runner import Reconciler
from scheduler.composition import Runtime
from tests.integration.test_scim_users import create
from tests.support import FakeClock, patch_body

TARGET = "identity_store"


def test_two_workers_claim_disjoint_work(
    client: TestClient[Any], runtime: Runtime, clock: FakeClock
) -> None:
    ids = {create(client, f"c{i}")["id"] for i in range(40)}
    first = StagingLedger(runtime.staging_engine, worker_id="w1")
    second = StagingLedger(runtime.staging_engine, worker_id="w2")
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
    crashed = StagingLedger(runtime.staging_engine, worker_id="crashed")
    survivor = StagingLedger(runtime.staging_engine, worker_id="survivor")
    assert len(crashed.claim(TARGET, clock(), 10)) == 1
    assert survivor.claim(TARGET, clock(), 10) == []
    clock.advance(301)
    assert len(survivor.claim(TARGET, clock(), 10)) == 1


def test_recording_releases_the_claim_and_audits(
    client: TestClient[Any], runtime: Runtime, clock: FakeClock
) -> None:
    user = create(client, "audited")
    runtime.reconciler.run_once()
    with runtime.staging_engine.connect() as conn:
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
