"""An anchor book kept in memory, for a target driven without the staging ledger.

In production the staging ledger answers who holds an anchor (it records every outcome). A
target applied on its own — by its tests, by a benchmark's raw loop — has no ledger, yet must
still refuse lookalike takeovers and resolve members by anchor; it then learns the anchors from
its own successful applies, exactly what the ledger would have recorded for them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from reconcile.changes import Action, Applied
from reconcile.errors import NotReadyError
from reconcile.model import Desired, DesiredGroup, DesiredIdentity
from reconcile.ports import AnchorHolder


class AnchorMemory:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_scim_id: dict[tuple[str, str], tuple[str, AnchorHolder]] = {}

    def learn(self, target: str, desired: Desired, applied: Applied) -> None:
        """Record what the ledger would: the anchor of an applied resource, none after a
        delete."""
        with self._lock:
            if applied.anchor is None or not isinstance(desired, DesiredIdentity | DesiredGroup):
                self._by_scim_id.pop((target, desired.scim_id), None)
                return
            name = desired.user_id if isinstance(desired, DesiredIdentity) else desired.display_name
            holder = AnchorHolder(desired.scim_id, desired.kind, name)
            self._by_scim_id[(target, desired.scim_id)] = (applied.anchor, holder)

    def learning(self, target: str, desired: Desired, attempt: Callable[[], Applied]) -> Applied:
        """Run one apply and learn its anchor, also from a wait that kept one (a group made
        with the members at hand is that resource's entry while it waits)."""
        try:
            done = attempt()
        except NotReadyError as exc:
            if exc.anchor:
                self.learn(target, desired, Applied(Action.UPDATED, exc.anchor))
            raise
        self.learn(target, desired, done)
        return done

    def holders(self, target: str, anchors: Sequence[str]) -> dict[str, list[AnchorHolder]]:
        wanted = set(anchors)
        found: dict[str, list[AnchorHolder]] = {}
        with self._lock:
            for (held_on, _), (anchor, holder) in self._by_scim_id.items():
                if held_on == target and anchor in wanted:
                    found.setdefault(anchor, []).append(holder)
        return found

    def anchors_of(self, target: str, scim_ids: Sequence[str]) -> dict[str, str]:
        with self._lock:
            return {
                scim_id: held[0]
                for scim_id in scim_ids
                if (held := self._by_scim_id.get((target, scim_id))) is not None
            }
