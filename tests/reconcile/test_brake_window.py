"""The mass-change brake weighs a window, not a run: deletes Entra trickles in one per run are
held like a burst, on SQLite and PostgreSQL, with an injected clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import TestClient

from reconcile.policy import MassChangeBrake
from reconcile.runner import Reconciler
from scheduler.composition import Runtime
from tests.support import FakeClock
from tests.support.scim_client import create_user as create

TARGET = "identity_store"
WINDOW = timedelta(minutes=40)


def braked(runtime: Runtime, clock: FakeClock, max_count: int = 100) -> Reconciler:
    return Reconciler(
        runtime.desired,
        runtime.ledger,
        runtime.targets,
        clock=clock,
        brake=MassChangeBrake(max_count=max_count, max_share=1.0, window=WINDOW),
    )


def trickle(
    client: TestClient[Any], reconciler: Reconciler, clock: FakeClock, users: list[dict[str, Any]]
) -> tuple[int, int]:
    """Delete ``users`` one per run, a second apart, as Entra's trickle and the run started
    after each write do; returns (deletes applied, held after the last run)."""
    deleted = held = 0
    for user in users:
        assert client.delete(f"/scim/v2/Users/{user['id']}").status_code == 204
        clock.advance(1)
        report = reconciler.run_once().targets[0]
        deleted += report.actions.get("deleted", 0)
        held = report.held
    return deleted, held


@pytest.mark.slow
def test_a_trickle_of_600_deletes_is_held_like_a_burst(
    client: TestClient[Any], runtime: Runtime, clock: FakeClock
) -> None:
    users = [create(client, f"t{i:03}") for i in range(610)]
    reconciler = braked(runtime, clock)
    reconciler.run_once()

    deleted, held = trickle(client, reconciler, clock, users[:600])
    assert (deleted, held) == (100, 500)  # the 101st delete within the window tripped it
    (hold,) = runtime.ledger.holds()
    assert (hold["target"], hold["deletes"]) == (TARGET, 1)
    assert runtime.identity_record("t100") is not None
    assert runtime.identity_record("t099") is None

    assert runtime.ledger.approve_hold(hold["id"], "admin", clock()) == 1
    clock.advance(1)
    report = reconciler.run_once().targets[0]
    assert report.actions == {"deleted": 500} and report.held == 0
    # Approved deletes were weighed by a person: the count starts again after the hold.
    clock.advance(60)
    assert trickle(client, reconciler, clock, users[600:610]) == (10, 0)
    assert runtime.ledger.holds() == []


def test_the_count_starts_again_once_the_window_has_passed(
    client: TestClient[Any], runtime: Runtime, clock: FakeClock
) -> None:
    users = [create(client, f"w{i:03}") for i in range(50)]
    reconciler = braked(runtime, clock, max_count=20)
    reconciler.run_once()

    assert trickle(client, reconciler, clock, users[:20]) == (20, 0)
    clock.advance(WINDOW.total_seconds())
    assert trickle(client, reconciler, clock, users[20:40]) == (20, 0)
    assert trickle(client, reconciler, clock, users[40:41]) == (0, 1)
