"""A run's items in phases, and one phase's items shared by the workers that apply them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Protocol

from reconcile.model import Desired, ResourceKind
from reconcile.ports import Outcome, WorkItem

RECORD_BATCH = 200
"""Outcomes recorded per ledger transaction; a crash repeats at most this many applies,
which are idempotent."""


class Counter(Protocol):
    def count_outcome(self, outcome: Outcome) -> None: ...


class PhaseWork:
    """The items of a phase shared by its workers, and the outcomes not yet recorded."""

    def __init__(self, work: Iterator[tuple[WorkItem, Desired]]) -> None:
        self._work = work
        self._lock = threading.Lock()
        self.done: list[tuple[WorkItem, Outcome]] = []
        self.available = True
        self._stopped = False

    def take(self) -> tuple[WorkItem, Desired] | None:
        """The next item, or None when there is none left or nothing more may start."""
        with self._lock:
            if not self.available or self._stopped:
                return None
            return next(self._work, None)

    def finish(
        self, item: WorkItem, outcome: Outcome | None, report: Counter
    ) -> list[tuple[WorkItem, Outcome]] | None:
        """Note an outcome (None: the target is unavailable); a full batch to record, if this
        one filled it."""
        with self._lock:
            if outcome is None:
                self.available = False
                return None
            report.count_outcome(outcome)
            self.done.append((item, outcome))
            if len(self.done) < RECORD_BATCH:
                return None
            full, self.done = self.done, []
            return full

    def stop(self) -> None:
        with self._lock:
            self._stopped = True


def phase_of(item: WorkItem) -> int:
    """Group deletes, user deletes, users, groups — the order the ledger hands them out."""
    if item.deleted:
        return 0 if item.kind is ResourceKind.GROUP else 1
    return 2 if item.kind is ResourceKind.USER else 3


def phases(items: list[WorkItem]) -> list[list[WorkItem]]:
    """Consecutive runs of one phase: within a run, items are independent and may go in parallel."""
    runs: list[list[WorkItem]] = []
    for item in sorted(items, key=phase_of):
        if runs and phase_of(runs[-1][0]) == phase_of(item):
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs
