"""Full (drift) reconciliation: read each target whole, compare it with staging, repair.

Repairs go through the ordinary run loop: a drifted resource is marked as not observed, so the
next run (which the caller starts right after) re-applies it with the usual ordering, retries
and dead letters. Only orphans — entries in the managed scope that no staged resource accounts
for — are removed here, and the mass-change brake guards that removal like any other mass delete.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from reconcile.changes import Change, ChangeAction
from reconcile.errors import TargetError
from reconcile.model import Desired, DesiredGroup, DesiredIdentity, ResourceKind, Tombstone
from reconcile.policy import MassChangeBrake
from reconcile.ports import AnchorBook, DesiredStateSource, Found, Target, Work, WorkItem

log = logging.getLogger(__name__)

Progress = Callable[[str, int], None]
"""Called with the target name and how many entries were compared so far."""


class DriftBook(Protocol):
    """What a full reconcile and a dry run ask of the sync ledger (it answers them too)."""

    def applied_ids(self, target: str) -> Iterator[str]:
        """Live resources the ledger believes the target holds."""
        ...

    def mark_drifted(self, target: str, scim_ids: Sequence[str], now: datetime) -> None:
        """Make the next run apply these again."""
        ...

    def peek(self, target: str, now: datetime, limit: int) -> list[WorkItem]:
        """What is due, without claiming it."""
        ...

    def live_names(self, kind: ResourceKind) -> Iterator[tuple[str, str]]:
        """(scim_id, userName or group displayName) of every live staged resource of ``kind``,
        for entries the target holds without a known anchor."""
        ...


NameIndex = dict[str, list[tuple[str, str]]]
"""A name as the target folds it → the live staged resources (scim_id, name) it names."""
CLASH = "\x00clash"
"""What :meth:`FullReconciler._owner_by_name` answers for an entry several names claim (no
scim_id can be it)."""


@dataclass(slots=True)
class DriftReport:
    target: str
    compared: int = 0
    drifted: int = 0
    missing: int = 0
    orphans: int = 0
    orphans_removed: int = 0
    orphans_held: bool = False
    clashes: int = 0
    """Entries without an anchor that two or more staged resources name alike: none adopts."""
    changes: list[Change] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "target": self.target,
            "compared": self.compared,
            "drifted": self.drifted,
            "missing": self.missing,
            "orphans": self.orphans,
            "orphans_removed": self.orphans_removed,
            "orphans_held": self.orphans_held,
            "clashes": self.clashes,
            "changes": [c.to_json() for c in self.changes],
        }


class FullReconciler:
    def __init__(
        self,
        source: DesiredStateSource,
        book: DriftBook,
        targets: Sequence[Target[Any]],
        *,
        anchors: AnchorBook,
        clock: Callable[[], datetime],
        brake: MassChangeBrake | None = None,
        page_size: int = 500,
    ) -> None:
        self._source = source
        self._book = book
        self._anchors = anchors
        self._targets = list(targets)
        self._clock = clock
        self._brake = brake
        self._page = page_size

    @property
    def target_names(self) -> list[str]:
        return [t.name for t in self._targets]

    def run(
        self,
        *,
        dry_run: bool = False,
        only: Iterable[str] | None = None,
        progress: Progress | None = None,
        allow_mass_delete: bool = False,
    ) -> list[DriftReport]:
        chosen = set(only) if only is not None else None
        reports = []
        for target in self._targets:
            name = target.name
            if chosen is not None and name not in chosen:
                continue
            reports.append(self._compare(name, target, dry_run, progress, allow_mass_delete))
        return reports

    def preview(self, only: Iterable[str] | None = None, limit: int = 100_000) -> list[DriftReport]:
        """What the next ordinary run would change, per target, read from the targets."""
        chosen = set(only) if only is not None else None
        reports = []
        for target in self._targets:
            if chosen is not None and target.name not in chosen:
                continue
            report = DriftReport(target.name)
            items = self._book.peek(target.name, self._clock(), limit)
            for start in range(0, len(items), self._page):
                chunk = items[start : start + self._page]
                desired = self._source.load([i.scim_id for i in chunk])
                work = [(desired[i.scim_id], i.anchor) for i in chunk if i.scim_id in desired]
                report.compared += len(work)
                report.changes.extend(c for changes in plans(target, work) for c in changes)
            reports.append(report)
        return reports

    def _compare(
        self,
        name: str,
        target: Target[Any],
        dry_run: bool,
        progress: Progress | None,
        allow_mass_delete: bool,
    ) -> DriftReport:
        report = DriftReport(name)
        seen: set[str] = set()
        orphans: list[Found[Any]] = []
        for kind in (ResourceKind.USER, ResourceKind.GROUP):
            page: list[Found[Any]] = []
            names: NameIndex | None = None  # read when an entry without an anchor needs it
            for found in target.inventory(kind):
                page.append(found)
                if len(page) >= self._page:
                    names = self._compare_page(
                        target, kind, page, names, seen, orphans, report, dry_run
                    )
                    page = []
                    if progress:
                        progress(name, report.compared)
            self._compare_page(target, kind, page, names, seen, orphans, report, dry_run)
            if progress:
                progress(name, report.compared)
        missing = [i for i in self._book.applied_ids(name) if i not in seen]
        for start in range(0, len(missing), self._page):
            chunk = missing[start : start + self._page]
            desired = self._source.load(chunk)
            live = [
                (desired[i], None)
                for i in chunk
                if isinstance(desired.get(i), DesiredIdentity | DesiredGroup)
            ]
            absent: list[str] = []
            for (state, _), changes in zip(live, plans(target, live), strict=True):
                if changes:  # e.g. a disabled user under a delete policy: nothing to hold
                    absent.append(state.scim_id)
                    if dry_run:
                        report.changes.extend(changes)
            report.missing += len(absent)
            if absent and not dry_run:
                self._book.mark_drifted(name, absent, self._clock())
        report.orphans = len(orphans)
        if dry_run:
            report.changes.extend(c for o in orphans for c in target.plan_orphan(o))
        elif orphans:
            self._remove_orphans(name, target, orphans, report, allow_mass_delete)
        log.info(
            "drift compared", extra={k: v for k, v in report.to_json().items() if k != "changes"}
        )
        return report

    def _compare_page(
        self,
        target: Target[Any],
        kind: ResourceKind,
        page: list[Found[Any]],
        names: NameIndex | None,
        seen: set[str],
        orphans: list[Found[Any]],
        report: DriftReport,
        dry_run: bool,
    ) -> NameIndex | None:
        """Compare one page; returns the name index if it had to be read (kept for the next
        pages of the same kind)."""
        if not page:
            return names
        anchors = self._owners(target.name, [f.anchor for f in page if not f.scim_id])
        owners: list[tuple[str | None, bool]] = []  # (scim_id, matched by its anchor)
        clashed: set[str] = set()  # anchors of entries several staged names claim
        for found in page:
            owner = found.scim_id or anchors.get(found.anchor)
            by_anchor = owner is not None
            if owner is None:
                if names is None:
                    names = self._name_index(target, kind)
                owner = self._owner_by_name(target, found, names, seen, report, dry_run)
                if owner == CLASH:
                    clashed.add(found.anchor)
                    owner = None
            owners.append((owner, by_anchor))
        desired = self._source.load([i for i, _ in owners if i])
        matched: list[tuple[Desired, str | None, Found[Any]]] = []
        for found, (scim_id, by_anchor) in zip(page, owners, strict=True):
            report.compared += 1
            state = desired.get(scim_id) if scim_id else None
            if state is None or isinstance(state, Tombstone):
                if found.anchor not in clashed:
                    orphans.append(found)
                continue
            seen.add(state.scim_id)
            matched.append((state, found.anchor if by_anchor else None, found))
        drifted: list[str] = []
        observed = target.observe_found(matched) if matched else []
        for (state, _, _), seen_state in zip(matched, observed, strict=True):
            changes = target.plan(state, seen_state)
            if changes:
                drifted.append(state.scim_id)
                if dry_run:
                    report.changes.extend(changes)
        report.drifted += len(drifted)
        if drifted and not dry_run:
            self._book.mark_drifted(target.name, drifted, self._clock())
        return names

    def _name_index(self, target: Target[Any], kind: ResourceKind) -> NameIndex:
        """Every live staged name of ``kind``, folded as the target folds names. Read whole,
        once per kind and run, and only when an entry without an anchor turns up: the
        target's folding (LDAP's ignores width and spacing, and lower-cases ``İ`` to ``i``)
        is not the staging key's, so no indexed lookup by key finds every name it equates."""
        folded = target.fold_name
        index: NameIndex = {}
        for scim_id, staged in self._book.live_names(kind):
            index.setdefault(folded(staged), []).append((scim_id, staged))
        return index

    def _owner_by_name(
        self,
        target: Target[Any],
        found: Found[Any],
        names: NameIndex,
        seen: set[str],
        report: DriftReport,
        dry_run: bool,
    ) -> str | None:
        """The staged resource an entry without a known anchor belongs to: the one whose name
        the target equates with the entry's. Two or more such names are a clash
        (:data:`CLASH`): the entry is adopted by none and removed as an orphan by none, and is
        reported naming them all."""
        named = names.get(target.fold_name(found.name), [])
        if len(named) < 2:
            return named[0][0] if named else None
        what = "user" if found.kind is ResourceKind.USER else "group"
        claimants = " and ".join(f"{what} '{n}' (id {i})" for i, n in sorted(named))
        detail = (
            f"the entry '{found.locator or found.name}' is named like {claimants} (the "
            "target compares names ignoring case, width and extra spaces); none of them takes "
            "it over: rename all but one in Entra"
        )
        report.clashes += 1
        seen.update(i for i, _ in named)  # reported as a clash, not as missing
        if dry_run:
            report.changes.append(
                Change(
                    target.name,
                    ChangeAction.CLASH,
                    found.kind,
                    found.name,
                    None,
                    locator=found.locator,
                    detail=detail,
                )
            )
        log.warning(
            "name clash",
            extra={"target": target.name, "anchor": found.anchor, "detail": detail},
        )
        return CLASH

    def _owners(self, target: str, anchors: Sequence[str]) -> dict[str, str]:
        """anchor → the staged resource it belongs to: a live holder before one Entra deleted
        (two holders of one entry are a past takeover; the live one's entry is no orphan)."""
        return {
            anchor: min(holders, key=lambda h: (h.deleting, h.scim_id)).scim_id
            for anchor, holders in self._anchors.holders(target, anchors).items()
            if holders
        }

    def _remove_orphans(
        self,
        name: str,
        target: Target[Any],
        orphans: list[Found[Any]],
        report: DriftReport,
        allow_mass_delete: bool,
    ) -> None:
        # Asked again just before deleting: an apply may have taken one over since the compare.
        held = self._anchors.holders(name, [o.anchor for o in orphans])
        taken = {a for a, holders in held.items() if any(not h.deleting for h in holders)}
        orphans = [o for o in orphans if o.anchor not in taken]
        if (
            self._brake is not None
            and not allow_mass_delete
            and self._brake.trips(len(orphans), 0, report.compared)
        ):
            report.orphans_held = True
            log.warning("orphan removal held", extra={"target": name, "orphans": len(orphans)})
            return
        for found in orphans:
            try:
                target.remove_orphan(found)
                report.orphans_removed += 1
            except TargetError as exc:
                log.warning(
                    "orphan not removed",
                    extra={"target": name, "anchor": found.anchor, "reason": exc.reason},
                )


def plans(target: Target[Any], work: Work) -> list[list[Change]]:
    """Each resource of ``work`` planned as its apply would plan it: observed in one batch,
    then the target's own ``plan``."""
    if not work:
        return []
    observed = target.observe(work)
    return [target.plan(desired, seen) for (desired, _), seen in zip(work, observed, strict=True)]
