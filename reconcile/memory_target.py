"""A target that keeps its entries in memory: the worked example of the target contract.

It is small on purpose — ``docs/adding-a-target.md`` walks through it — yet it keeps every
promise the real targets keep, and the contract suite runs it through the same cases as the
Identity Manager store and LDAP: entries have anchors of their own, names are matched as the
target folds them, an entry found by name is adopted only when no other staged resource holds
it, a rename carries the references along, and a group waits for members it cannot resolve.

The three steps are separate, as in every target: :meth:`MemoryTarget.observe` reads (here:
looks in a dict, and asks the anchor book who holds what it found by name), :meth:`plan` decides
with no I/O at all, and :meth:`execute` carries out the changes, nothing else.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace

from reconcile.anchors import AnchorMemory
from reconcile.changes import (
    Applied,
    Change,
    ChangeAction,
    applied,
    change,
    refusal,
    refuse_first,
    wait_after,
)
from reconcile.errors import ClashError, NotReadyError, TargetError, TransientTargetError
from reconcile.model import Desired, DesiredGroup, DesiredIdentity, ResourceKind, Tombstone
from reconcile.ports import AnchorBook, Found, TargetBase, Work


def user_attributes(desired: DesiredIdentity) -> dict[str, object]:
    """What this target keeps of a user besides its name (a real target keeps what its
    mapping says; see the Identity Manager store's planner)."""
    return {
        "active": desired.active,
        "email": desired.email,
        "display_name": desired.display_name,
        "title": desired.title,
        "manager_user_id": desired.manager_user_id,
    }


@dataclass(frozen=True, slots=True)
class MemoryEntry:
    """One entry as the target holds it. Entries are replaced, never changed in place, so an
    observation can hold one without copying."""

    anchor: str
    kind: ResourceKind
    name: str
    attributes: Mapping[str, object] = field(default_factory=dict)
    members: frozenset[str] = frozenset()
    """Groups: the member user IDs, as the target names its users."""


@dataclass(frozen=True, slots=True)
class MemoryObserved:
    """What :meth:`MemoryTarget.plan` needs: the entry (if any) and how it was found, the
    members the target can name, and the error an apply would meet instead of writing."""

    entry: MemoryEntry | None
    adopted: bool = False
    """Found by name, not by the resource's own anchor: taking it over is a change too."""
    resolved: frozenset[str] = frozenset()
    """Groups: the desired members the target holds, by their user ID there."""
    unresolved: tuple[str, ...] = ()
    """Groups: the desired members it does not hold yet (the group waits for them)."""
    refused: TargetError | None = None


class MemoryTarget(TargetBase[MemoryObserved]):
    def __init__(self, name: str = "memory", *, anchors: AnchorBook | None = None) -> None:
        self.name = name
        self._memory = AnchorMemory() if anchors is None else None
        self._book: AnchorBook = anchors or self._memory or AnchorMemory()
        self._entries: dict[str, MemoryEntry] = {}
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    # ---- observe -------------------------------------------------------------------------

    def observe(self, work: Work) -> list[MemoryObserved]:
        with self._lock:
            return [self._observe(desired, anchor) for desired, anchor in work]

    def _observe(self, desired: Desired, anchor: str | None) -> MemoryObserved:
        entry = self._entries.get(anchor) if anchor else None
        if isinstance(desired, Tombstone):
            return MemoryObserved(entry)  # a delete removes only what the resource anchored
        name = desired.user_id if isinstance(desired, DesiredIdentity) else desired.display_name
        try:
            adopted = False
            if entry is None:
                entry = self._named(desired.kind, name)
                if entry is not None:
                    self._refuse_others(entry, desired)
                    adopted = True
            elif self.fold_name(entry.name) != self.fold_name(name):
                self._refuse_rename(desired, name)
        except TargetError as exc:
            return MemoryObserved(entry, refused=exc)
        if isinstance(desired, DesiredIdentity):
            return MemoryObserved(entry, adopted)
        anchors = self._book.anchors_of(self.name, [m.scim_id for m in desired.members])
        names = {
            m.user_id: held.name
            for m in desired.members
            if (held := self._entries.get(anchors.get(m.scim_id, ""))) is not None
        }
        unresolved = tuple(sorted(m.user_id for m in desired.members if m.user_id not in names))
        return MemoryObserved(entry, adopted, frozenset(names.values()), unresolved)

    def _named(self, kind: ResourceKind, name: str) -> MemoryEntry | None:
        folded = self.fold_name(name)
        return next(
            (
                e
                for e in self._entries.values()
                if e.kind is kind and self.fold_name(e.name) == folded
            ),
            None,
        )

    def _refuse_others(self, entry: MemoryEntry, desired: DesiredIdentity | DesiredGroup) -> None:
        """An entry found by name is taken over only if no other staged resource holds it."""
        holders = self._book.holders(self.name, [entry.anchor]).get(entry.anchor, [])
        others = [h for h in holders if h.scim_id != desired.scim_id]
        live = [h for h in others if not h.deleting]
        if live:
            raise ClashError(f"the name collides with {live[0].describe()}, whose entry it is")
        if others:
            raise NotReadyError(f"the entry is still {others[0].describe()}'s, deleted in Entra")

    def _refuse_rename(self, desired: DesiredIdentity | DesiredGroup, name: str) -> None:
        occupant = self._named(desired.kind, name)
        if occupant is not None:
            raise TransientTargetError(
                f"cannot rename to '{name}': another entry holds the name; waiting for it to go"
            )

    # ---- plan ----------------------------------------------------------------------------

    def plan(self, desired: Desired, observed: MemoryObserved) -> list[Change]:
        if observed.refused is not None:
            return [refusal(self.name, desired, observed.refused)]
        entry = observed.entry
        if isinstance(desired, Tombstone):
            return [self._change(desired, ChangeAction.DELETE, entry)] if entry else []
        if isinstance(desired, DesiredIdentity):
            wanted: dict[str, object] = user_attributes(desired)
            name, members = desired.user_id, frozenset[str]()
        else:
            wanted = {"external_id": desired.external_id}
            name, members = desired.display_name, observed.resolved
        changes: list[Change] = []
        if entry is None:
            diff: dict[str, tuple[object, object]] = {
                k: (None, v) for k, v in wanted.items() if v is not None
            }
            changes.append(self._change(desired, ChangeAction.CREATE, None, diff=diff))
            held: frozenset[str] = frozenset()
        else:
            held = entry.members
            if observed.adopted:
                changes.append(self._change(desired, ChangeAction.ADOPT, entry))
            if entry.name != name:
                changes.append(self._change(desired, ChangeAction.RENAME, entry, name))
            diff = {k: (entry.attributes.get(k), v) for k, v in wanted.items()}
            diff = {k: d for k, d in diff.items() if d[0] != d[1]}
            active = diff.pop("active", None)
            if diff:
                changes.append(self._change(desired, ChangeAction.UPDATE, entry, diff=diff))
            if active is not None:
                flip = ChangeAction.ENABLE if active[1] else ChangeAction.DISABLE
                changes.append(self._change(desired, flip, entry, diff={"active": active}))
        for action, values in (
            (ChangeAction.MEMBER_ADD, members - held),
            (ChangeAction.MEMBER_REMOVE, held - members),
        ):
            if values:
                member = self._change(desired, action, entry, members=tuple(sorted(values)))
                changes.append(member)
        if observed.unresolved:
            shown = ", ".join(observed.unresolved[:5])
            reason = f"waiting for {len(observed.unresolved)} member(s) not yet held: {shown}"
            changes.append(self._change(desired, ChangeAction.WAIT, None, detail=reason))
        return changes

    def _change(
        self,
        desired: Desired,
        action: ChangeAction,
        entry: MemoryEntry | None,
        moved_to: str | None = None,
        diff: Mapping[str, tuple[object, object]] | None = None,
        members: tuple[str, ...] = (),
        detail: str | None = None,
    ) -> Change:
        locator = entry.name if entry else None
        return change(
            self.name,
            desired,
            action,
            locator=locator,
            moved_to=moved_to,
            diff=diff,
            members=members,
            detail=detail,
        )

    # ---- apply ---------------------------------------------------------------------------

    def apply(self, desired: Desired, anchor: str | None) -> Applied:
        """Observe, plan and execute under one lock: nothing changes in between."""
        with self._lock:
            if self._memory is not None:
                return self._memory.learning(
                    self.name, desired, lambda: TargetBase.apply(self, desired, anchor)
                )
            return super().apply(desired, anchor)

    def execute(self, desired: Desired, observed: MemoryObserved, changes: list[Change]) -> Applied:
        refuse_first(changes)
        anchor = observed.entry.anchor if observed.entry else None
        for planned in changes:
            anchor = self._carry_out(desired, planned, anchor)
        wait_after(changes, anchor)
        return applied(desired, changes, anchor)

    def _carry_out(self, desired: Desired, change: Change, anchor: str | None) -> str | None:
        """One change; returns the entry's anchor after it (None once deleted)."""
        action = change.action
        if action is ChangeAction.CREATE:
            anchor = f"mem-{next(self._ids)}"
            attributes = {k: d for k, (_, d) in change.diff.items()}
            self._entries[anchor] = MemoryEntry(anchor, change.kind, change.name, attributes)
            return anchor
        if anchor is None or action in (ChangeAction.ADOPT, ChangeAction.WAIT):
            return anchor
        entry = self._entries[anchor]
        if action is ChangeAction.DELETE:
            del self._entries[anchor]
            self._drop_references(entry)
            return None
        if action is ChangeAction.RENAME and change.moved_to is not None:
            self._entries[anchor] = replace(entry, name=change.moved_to)
            self._follow_rename(entry, change.moved_to)
        elif action is ChangeAction.MEMBER_ADD:
            self._entries[anchor] = replace(entry, members=entry.members | set(change.members))
        elif action is ChangeAction.MEMBER_REMOVE:
            self._entries[anchor] = replace(entry, members=entry.members - set(change.members))
        else:  # update, disable, enable: attribute values
            values = {k: d for k, (_, d) in change.diff.items()}
            self._entries[anchor] = replace(entry, attributes={**entry.attributes, **values})
        return anchor

    def _follow_rename(self, entry: MemoryEntry, new: str) -> None:
        if entry.kind is not ResourceKind.USER:
            return
        for anchor, other in list(self._entries.items()):
            if entry.name in other.members:
                members = (other.members - {entry.name}) | {new}
                self._entries[anchor] = replace(other, members=members)
            if other.attributes.get("manager_user_id") == entry.name:
                attributes = {**other.attributes, "manager_user_id": new}
                self._entries[anchor] = replace(self._entries[anchor], attributes=attributes)

    def _drop_references(self, entry: MemoryEntry) -> None:
        if entry.kind is not ResourceKind.USER:
            return
        for anchor, other in list(self._entries.items()):
            if entry.name in other.members:
                self._entries[anchor] = replace(other, members=other.members - {entry.name})
            if other.attributes.get("manager_user_id") == entry.name:
                attributes = {**other.attributes, "manager_user_id": None}
                self._entries[anchor] = replace(self._entries[anchor], attributes=attributes)

    # ---- inventory -----------------------------------------------------------------------

    def inventory(self, kind: ResourceKind) -> Iterator[Found[MemoryObserved]]:
        with self._lock:
            held = [e for e in self._entries.values() if e.kind is kind]
        for entry in sorted(held, key=lambda e: e.anchor):
            yield Found(kind, entry.anchor, None, entry.name, entry.name, MemoryObserved(entry))

    def remove(self, found: Found[MemoryObserved]) -> None:
        with self._lock:
            entry = self._entries.pop(found.anchor, None)
            if entry is not None:
                self._drop_references(entry)

    def entries(self) -> list[MemoryEntry]:
        """Everything held, for tests and examples to look at."""
        with self._lock:
            return list(self._entries.values())
