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


GROUP_DELETE, USER_DELETE, USER, GROUP = 0, 1, 2, 3
"""The phases in the order a run takes them; the ledger stores each row's phase."""


def phase_of(kind: str, deleted: bool) -> int:
    """Group deletes, then user deletes (a freed user ID can be reused by a create in the same
    run), then users, then the groups that hold them. ``kind``: a :class:`ResourceKind` or its
    value, as the ledger's rows hold it."""
    if deleted:
        return GROUP_DELETE if kind == ResourceKind.GROUP else USER_DELETE
    return USER if kind == ResourceKind.USER else GROUP


def _phase(item: WorkItem) -> int:
    return phase_of(item.kind, item.deleted)


def phases(items: list[WorkItem]) -> list[list[WorkItem]]:
    """Consecutive runs of one phase: within a run, items are independent and may go in parallel."""
    runs: list[list[WorkItem]] = []
    for item in sorted(items, key=_phase):
        if runs and _phase(runs[-1][0]) == _phase(item):
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs
