"""The run loop's decisions, with an in-memory ledger and scripted targets (unit tests)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import cast

import pytest

from reconcile.errors import (
    NotReadyError,
    PermanentTargetError,
    TargetUnavailableError,
    TransientTargetError,
)
from reconcile.memory_target import MemoryTarget
from reconcile.model import Desired, DesiredIdentity, ResourceKind
from reconcile.policy import RetryPolicy
from reconcile.ports import Action, Applied, Outcome, SyncLedger, SyncStatus, WorkItem
from reconcile.runner import Reconciler
from tests.support import FakeClock


class MemoryLedger:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.desired: dict[str, Desired] = {}
        self.state: dict[tuple[str, str], Outcome] = {}
        self.attempted: dict[tuple[str, str], int] = {}

    def stage(self, user_id: str, generation: int = 1) -> str:
        scim_id = f"id-{user_id}"
        self.desired[scim_id] = DesiredIdentity(scim_id, generation, user_id)
        return scim_id

    def load(self, scim_ids: Sequence[str]) -> dict[str, Desired]:
        return {i: self.desired[i] for i in scim_ids if i in self.desired}

    def release(self, target: str) -> None:
        pass

    def claim(
        self, target: str, now: datetime, limit: int, *, destructive: bool = True
    ) -> list[WorkItem]:
        out = []
        for scim_id, desired in self.desired.items():
            state = self.state.get((target, scim_id))
            if state is not None:
                if (state.observed_generation or 0) >= desired.generation:
                    continue
                if state.next_attempt_at and state.next_attempt_at > now:
                    continue
                if (
                    state.status is SyncStatus.DEAD
                    and self.attempted[(target, scim_id)] >= desired.generation
                ):
                    continue
            out.append(
                WorkItem(
                    scim_id,
                    ResourceKind.USER,
                    desired.generation,
                    False,
                    state.anchor if state else None,
                    state.attempts if state else 0,
                )
            )
        return out[:limit]

    def record_many(
        self, target: str, outcomes: Sequence[tuple[WorkItem, Outcome]], now: datetime
    ) -> None:
        for item, outcome in outcomes:
            self.state[(target, item.scim_id)] = outcome
            self.attempted[(target, item.scim_id)] = item.generation

    def forget_fully_deleted(self, targets: Iterable[str]) -> int:
        return 0


class ScriptedTarget(MemoryTarget):
    """Applies as scripted: the next error of the script, or a create."""

    def __init__(self, name: str, script: list[Exception | None] | None = None) -> None:
        super().__init__(name)
        self.script = list(script or [])
        self.applied: list[str] = []

    def apply(self, desired: Desired, anchor: str | None) -> Applied:
        if self.script:
            error = self.script.pop(0)
            if error is not None:
                raise error
        self.applied.append(desired.scim_id)
        return Applied(Action.CREATED, f"anchor-{desired.scim_id}")


POLICY = RetryPolicy(max_attempts=3, initial_seconds=2, max_seconds=60, jitter_seconds=0)


def as_ledger(ledger: MemoryLedger) -> SyncLedger:
    """The memory ledger has none of the mass-change brake's calls: these runs have no brake,
    so the reconciler never makes them."""
    return cast(SyncLedger, ledger)


def make(clock: FakeClock, *targets: ScriptedTarget) -> tuple[MemoryLedger, Reconciler]:
    ledger = MemoryLedger(clock)
    return ledger, Reconciler(ledger, as_ledger(ledger), list(targets), clock=clock, policy=POLICY)


def test_applies_and_records_the_anchor() -> None:
    clock = FakeClock()
    target = ScriptedTarget("t")
    ledger, reconciler = make(clock, target)
    scim_id = ledger.stage("u1")
    report = reconciler.run_once()
    assert report.applied == 1
    assert ledger.state[("t", scim_id)].anchor == f"anchor-{scim_id}"
    assert ledger.state[("t", scim_id)].status is SyncStatus.APPLIED
    assert reconciler.run_once().applied == 0


def test_transient_errors_back_off_then_dead_letter() -> None:
    clock = FakeClock()
    target = ScriptedTarget("t", [TransientTargetError("timeout")] * 5)
    ledger, reconciler = make(clock, target)
    scim_id = ledger.stage("u1")
    reconciler.run_once()
    first = ledger.state[("t", scim_id)]
    assert first.status is SyncStatus.RETRYING and first.attempts == 1
    assert first.next_attempt_at == clock() + timedelta(seconds=2)
    assert reconciler.run_once().applied == 0  # not yet due
    clock.advance(2)
    reconciler.run_once()
    second = ledger.state[("t", scim_id)]
    assert second.attempts == 2 and second.next_attempt_at == clock() + timedelta(seconds=4)
    clock.advance(4)
    reconciler.run_once()
    dead = ledger.state[("t", scim_id)]
    assert dead.status is SyncStatus.DEAD and dead.last_error == "timeout"
    clock.advance(3600)
    assert reconciler.run_once().applied == 0  # dead letters wait for an operator
    ledger.stage("u1", generation=2)  # ... or for a newer change from Entra
    target.script.clear()
    assert reconciler.run_once().applied == 1


def test_retry_after_hint_is_honoured() -> None:
    clock = FakeClock()
    ledger, reconciler = make(
        clock, ScriptedTarget("t", [TransientTargetError("busy", retry_after=30)])
    )
    scim_id = ledger.stage("u1")
    reconciler.run_once()
    assert ledger.state[("t", scim_id)].next_attempt_at == clock() + timedelta(seconds=30)


def test_permanent_error_is_dead_at_once_with_its_reason() -> None:
    clock = FakeClock()
    ledger, reconciler = make(
        clock, ScriptedTarget("t", [PermanentTargetError("objectClassViolation")])
    )
    scim_id = ledger.stage("u1")
    report = reconciler.run_once()
    assert report.targets[0].dead == 1
    assert ledger.state[("t", scim_id)].status is SyncStatus.DEAD
    assert ledger.state[("t", scim_id)].last_error == "objectClassViolation"


def test_an_unavailable_target_stops_its_run_without_spending_attempts() -> None:
    clock = FakeClock()
    down = ScriptedTarget("ldap", [TargetUnavailableError("connection refused")])
    healthy = ScriptedTarget("store")
    ledger, reconciler = make(clock, down, healthy)
    ids = [ledger.stage(f"u{i}") for i in range(3)]
    report = reconciler.run_once()
    assert report.targets[0].unavailable == "connection refused"
    assert all(("ldap", i) not in ledger.state for i in ids)
    assert healthy.applied == ids  # one target down never holds back another
    assert reconciler.run_once().targets[0].applied == 3


def test_not_ready_waits_without_counting_an_attempt() -> None:
    clock = FakeClock()
    ledger, reconciler = make(clock, ScriptedTarget("t", [NotReadyError("member missing")]))
    scim_id = ledger.stage("g")
    report = reconciler.run_once()
    assert report.targets[0].waiting == 1
    state = ledger.state[("t", scim_id)]
    assert state.status is SyncStatus.PENDING and state.attempts == 0
    clock.advance(POLICY.not_ready_seconds)
    assert reconciler.run_once().applied == 1


def test_a_waiting_resource_keeps_the_anchor_of_what_was_already_applied() -> None:
    """A group created with the members at hand, waiting for the others: its entry is known
    to be its own while it waits (no lookalike can adopt it meanwhile)."""
    clock = FakeClock()
    waiting = NotReadyError("member missing", anchor="uuid-of-the-new-group")
    ledger, reconciler = make(clock, ScriptedTarget("t", [waiting]))
    scim_id = ledger.stage("g")
    assert reconciler.run_once().targets[0].waiting == 1
    assert ledger.state[("t", scim_id)].anchor == "uuid-of-the-new-group"


@pytest.mark.parametrize("attempt", [1, 2, 5, 12, 40])
def test_policy_waits_grow_and_stay_bounded(attempt: int) -> None:
    policy = RetryPolicy(initial_seconds=2, max_seconds=300, jitter_seconds=1)
    now = FakeClock()()
    wait = (policy.next_attempt(attempt, now, None) - now).total_seconds()
    floor = min(2 * 2 ** (attempt - 1), 300)
    assert floor <= wait <= min(floor + 1, 300)


class CountingLedger(MemoryLedger):
    """Counts the calls that cost a transaction each; loses the resources it is told to."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.claims = self.releases = 0
        self.unloadable: set[str] = set()

    def claim(
        self, target: str, now: datetime, limit: int, *, destructive: bool = True
    ) -> list[WorkItem]:
        self.claims += 1
        return super().claim(target, now, limit, destructive=destructive)

    def load(self, scim_ids: Sequence[str]) -> dict[str, Desired]:
        return {k: v for k, v in super().load(scim_ids).items() if k not in self.unloadable}

    def release(self, target: str) -> None:
        self.releases += 1


def test_a_short_batch_ends_the_run_and_nothing_left_claimed_needs_no_release() -> None:
    clock = FakeClock()
    ledger = CountingLedger(clock)
    reconciler = Reconciler(
        ledger, as_ledger(ledger), [ScriptedTarget("t")], clock=clock, batch_size=2
    )
    for i in range(3):
        ledger.stage(f"u{i}")
    assert reconciler.run_once().applied == 3
    assert (ledger.claims, ledger.releases) == (2, 0)  # a full batch, then a short one


def test_a_claimed_resource_that_was_not_applied_is_released() -> None:
    clock = FakeClock()
    ledger = CountingLedger(clock)
    reconciler = Reconciler(ledger, as_ledger(ledger), [ScriptedTarget("t")], clock=clock)
    ledger.stage("kept")
    ledger.unloadable.add(ledger.stage("gone"))
    assert reconciler.run_once().applied == 1
    assert ledger.releases == 1
