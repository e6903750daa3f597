"""The level-triggered run loop: for each target, apply what it is behind on, record the outcome.

Each run reads the newest desired state, so a burst of changes to one resource costs one apply.
A crash at any point is safe: the ledger only moves forward after the target confirmed, and
every target operation is idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from reconcile.errors import (
    NotReadyError,
    PermanentTargetError,
    TargetError,
    TargetUnavailableError,
    TransientTargetError,
)
from reconcile.model import Desired
from reconcile.phases import PhaseWork, phases
from reconcile.policy import MassChangeBrake, RetryPolicy
from reconcile.ports import (
    Action,
    Applier,
    DesiredStateSource,
    HoldDecision,
    Outcome,
    SyncLedger,
    SyncStatus,
    WorkItem,
)

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass(slots=True)
class TargetReport:
    """What one run did on one target."""

    target: str
    actions: dict[str, int] = field(default_factory=dict)
    retrying: int = 0
    dead: int = 0
    waiting: int = 0
    held: int = 0
    unavailable: str | None = None

    def count_outcome(self, outcome: Outcome) -> None:
        if outcome.status is SyncStatus.APPLIED and outcome.action is not None:
            key = outcome.action.value
            self.actions[key] = self.actions.get(key, 0) + 1
        elif outcome.status is SyncStatus.RETRYING:
            self.retrying += 1
        elif outcome.status is SyncStatus.DEAD:
            self.dead += 1
        elif outcome.waiting:
            self.waiting += 1

    @property
    def applied(self) -> int:
        return sum(self.actions.values())


@dataclass(slots=True)
class RunReport:
    targets: list[TargetReport] = field(default_factory=list)

    @property
    def applied(self) -> int:
        return sum(t.applied for t in self.targets)


class Reconciler:
    def __init__(
        self,
        source: DesiredStateSource,
        ledger: SyncLedger,
        targets: Sequence[Applier],
        *,
        clock: Clock,
        policy: RetryPolicy | None = None,
        brake: MassChangeBrake | None = None,
        batch_size: int = 500,
        max_batches: int = 1000,
    ) -> None:
        self._source = source
        self._ledger = ledger
        self._targets = list(targets)
        self._clock = clock
        self._policy = policy or RetryPolicy()
        self._brake = brake
        self._batch_size = batch_size
        self._max_batches = max_batches
        self._unavailable: dict[str, str] = {}

    @property
    def target_names(self) -> list[str]:
        return [t.name for t in self._targets]

    def run_once(self, only: Sequence[str] | None = None) -> RunReport:
        """Bring every (or each named) target up to date with what is due now."""
        report = RunReport()
        for target in self._targets:
            if only is not None and target.name not in only:
                continue
            report.targets.append(self._run_target(target))
        self._ledger.forget_fully_deleted(self.target_names)
        return report

    def _run_target(self, target: Applier) -> TargetReport:
        report = TargetReport(target.name)
        hold = self._ledger.open_hold(target.name) if self._brake else None
        destructive = self._brake_allows(target.name, hold, report)
        tried: set[str] = set()
        unrecorded = False  # claimed but neither applied nor recorded: to be released
        workers = max(1, target.parallelism)
        with ThreadPoolExecutor(workers, thread_name_prefix=f"apply-{target.name}") as pool:
            for _ in range(self._max_batches):
                claimed = self._ledger.claim(
                    target.name, self._clock(), self._batch_size, destructive=destructive
                )
                items = [i for i in claimed if i.scim_id not in tried]
                unrecorded |= len(items) < len(claimed)
                if not items:
                    break
                tried.update(i.scim_id for i in items)
                desired = self._source.load([i.scim_id for i in items])
                unrecorded |= len(desired) < len(items)
                for phase in phases(items):
                    work = [(i, desired[i.scim_id]) for i in phase if i.scim_id in desired]
                    target.prepare([(state, item.anchor) for item, state in work])
                    applied_all = self._apply_phase(target, pool, workers, work, report)
                    target.prepare([])
                    if not applied_all:
                        self._ledger.release(target.name)
                        return report
                if len(claimed) < self._batch_size:
                    break  # nothing else was due; what falls due later wakes a run of its own
            if unrecorded:
                self._ledger.release(target.name)
        if hold is not None and hold.approved:
            self._ledger.close_hold(hold.id, self._clock())
        return report

    def _brake_allows(self, name: str, hold: HoldDecision | None, report: TargetReport) -> bool:
        """Whether this run may delete and disable; trips the brake when what it would do,
        with what was done within the brake's window, is too much."""
        if self._brake is None:
            return True
        now = self._clock()
        if hold is not None:
            if hold.approved:
                return True
            report.held = self._ledger.mark_held(name, now)
            return False
        deletes, disables = self._ledger.count_destructive(name, now)
        if deletes == disables == 0:
            return True  # the brake weighs deletes and disables only: none is due
        recent_deletes, recent_disables = self._ledger.count_destructive_applied(
            name, now - self._brake.window
        )
        managed = self._ledger.count_managed(name)
        # the share is of what the target held before the window's deletes
        if not self._brake.trips(
            deletes + recent_deletes, disables + recent_disables, managed + recent_deletes
        ):
            return True
        self._ledger.hold(name, deletes, disables, managed, now)
        report.held = self._ledger.mark_held(name, now)
        log.warning(
            "mass change held",
            extra={
                "target": name,
                "deletes": deletes,
                "disables": disables,
                "recent_deletes": recent_deletes,
                "recent_disables": recent_disables,
                "managed": managed,
            },
        )
        return False

    def _apply_phase(
        self,
        target: Applier,
        pool: ThreadPoolExecutor,
        workers: int,
        work: list[tuple[WorkItem, Desired]],
        report: TargetReport,
    ) -> bool:
        """Apply one phase with up to ``workers`` applies in flight; outcomes are recorded in
        batches. Returns False once the target is unavailable: nothing more is started.

        Each worker takes the next item itself and records a full batch of outcomes itself, so
        an apply costs no hand-over to this thread and back (which, for a target that answers
        from a batch prepared ahead, cost more than the apply)."""
        phase = PhaseWork(iter(work))
        lanes = [
            pool.submit(self._lane, target, phase, report) for _ in range(min(workers, len(work)))
        ]
        for lane in lanes:
            lane.result()  # an unexpected error stops the other lanes, then is raised here
        self._ledger.record_many(target.name, phase.done, self._clock())
        if not phase.available:
            report.unavailable = self._unavailable.get(target.name)
        return phase.available

    def _lane(self, target: Applier, phase: PhaseWork, report: TargetReport) -> None:
        """One worker's share of a phase: take an item, apply it, note its outcome, and record
        the batch when it is full."""
        try:
            while (taken := phase.take()) is not None:
                item, state = taken
                outcome = self._attempt(target, item, state)
                full = phase.finish(item, outcome, report)
                if full:
                    self._ledger.record_many(target.name, full, self._clock())
        except BaseException:
            phase.stop()
            raise

    def _attempt(self, target: Applier, item: WorkItem, state: Desired) -> Outcome | None:
        """One apply; None means the whole target is unavailable (nothing to record)."""
        now = self._clock()
        try:
            applied = target.apply(state, item.anchor)
        except TargetUnavailableError as exc:
            self._unavailable[target.name] = exc.reason
            log.warning("target unavailable", extra={"target": target.name, "reason": exc.reason})
            return None
        except TransientTargetError as exc:
            attempts = item.attempts + 1
            if self._policy.gives_up_after(attempts):
                return self._dead(item, attempts, exc)
            log.info(
                "apply failed, will retry",
                extra={"target": target.name, "scim_id": item.scim_id, "reason": exc.reason},
            )
            return Outcome(
                SyncStatus.RETRYING,
                None,
                item.anchor,
                attempts,
                self._policy.next_attempt(attempts, now, exc.retry_after),
                exc.reason,
            )
        except NotReadyError as exc:
            return Outcome(
                SyncStatus.PENDING,
                None,
                exc.anchor or item.anchor,
                item.attempts,
                self._policy.next_attempt(0, now, self._policy.not_ready_seconds),
                exc.reason,
                waiting=True,
            )
        except PermanentTargetError as exc:
            return self._dead(item, item.attempts + 1, exc)
        if applied.action is not Action.UNCHANGED:
            log.info(
                "resource applied",
                extra={
                    "target": target.name,
                    "scim_id": item.scim_id,
                    "generation": item.generation,
                    "action": applied.action.value,
                },
            )
        return Outcome(
            SyncStatus.APPLIED,
            state.generation,
            applied.anchor,
            0,
            None,
            None,
            action=applied.action,
        )

    def _dead(self, item: WorkItem, attempts: int, exc: TargetError) -> Outcome:
        log.error(
            "resource dead-lettered",
            extra={"scim_id": item.scim_id, "generation": item.generation, "reason": exc.reason},
        )
        return Outcome(SyncStatus.DEAD, None, item.anchor, attempts, None, exc.reason)
