"""The level-triggered run loop: for each target, apply what it is behind on, record the outcome.

Each run reads the newest desired state, so a burst of changes to one resource costs one apply.
A crash at any point is safe: the ledger only moves forward after the target confirmed, and
every target operation is idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from reconcile.errors import (
    NotReadyError,
    PermanentTargetError,
    TargetError,
    TargetUnavailableError,
    TransientTargetError,
)
from reconcile.policy import RetryPolicy
from reconcile.ports import (
    Action,
    DesiredStateSource,
    Outcome,
    SyncLedger,
    SyncStatus,
    Target,
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
    unavailable: str | None = None

    def count(self, key: str) -> None:
        self.actions[key] = self.actions.get(key, 0) + 1

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
        targets: Sequence[Target],
        *,
        clock: Clock,
        policy: RetryPolicy | None = None,
        batch_size: int = 500,
        max_batches: int = 1000,
    ) -> None:
        self._source = source
        self._ledger = ledger
        self._targets = list(targets)
        self._clock = clock
        self._policy = policy or RetryPolicy()
        self._batch_size = batch_size
        self._max_batches = max_batches

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

    def _run_target(self, target: Target) -> TargetReport:
        report = TargetReport(target.name)
        tried: set[str] = set()
        for _ in range(self._max_batches):
            now = self._clock()
            items = [
                i
                for i in self._ledger.due(target.name, now, self._batch_size)
                if i.scim_id not in tried
            ]
            if not items:
                break
            desired = self._source.load([i.scim_id for i in items])
            for item in items:
                tried.add(item.scim_id)
                state = desired.get(item.scim_id)
                if state is None:  # purged between the two reads; nothing left to apply
                    continue
                outcome = self._apply_one(target, item, state, report)
                if outcome is None:
                    return report
                self._ledger.record(target.name, item, outcome, self._clock())
        return report

    def _apply_one(
        self,
        target: Target,
        item: WorkItem,
        state: object,
        report: TargetReport,
    ) -> Outcome | None:
        now = self._clock()
        try:
            applied = target.apply(state, item.anchor)  # type: ignore[arg-type]
        except TargetUnavailableError as exc:
            report.unavailable = exc.reason
            log.warning("target unavailable", extra={"target": target.name, "reason": exc.reason})
            return None
        except TransientTargetError as exc:
            attempts = item.attempts + 1
            if self._policy.gives_up_after(attempts):
                report.dead += 1
                return self._dead(item, attempts, exc)
            report.retrying += 1
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
            report.waiting += 1
            return Outcome(
                SyncStatus.PENDING,
                None,
                item.anchor,
                item.attempts,
                self._policy.next_attempt(0, now, self._policy.not_ready_seconds),
                exc.reason,
            )
        except PermanentTargetError as exc:
            report.dead += 1
            return self._dead(item, item.attempts + 1, exc)
        report.count(applied.action.value)
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
        return Outcome(SyncStatus.APPLIED, item.generation, applied.anchor, 0, None, None)

    def _dead(self, item: WorkItem, attempts: int, exc: TargetError) -> Outcome:
        log.error(
            "resource dead-lettered",
            extra={"scim_id": item.scim_id, "generation": item.generation, "reason": exc.reason},
        )
        return Outcome(SyncStatus.DEAD, None, item.anchor, attempts, None, exc.reason)
