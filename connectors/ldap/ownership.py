"""Which staged resource an entry belongs to, asked of the ledger's anchor book.

A name search can find an entry that is another resource's: the directory treats ``Admins `` and
``Admins`` (or ``alice`` and its fullwidth form) as one name, so the entry found for the
first is the second's. Before the target adopts, renames onto or deletes an entry it did not
reach by its own anchor, it asks who holds that entry's ``entryUUID``; another resource's entry
is never taken, and the clash becomes a dead letter naming both. Members and managers are
resolved the same way round: from the referenced user's own anchor, never by name.

A batch asks once for all its users (:meth:`Ownership.learn`), so the read-ahead costs one
query per chunk, not one per user.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from reconcile.errors import ClashError, NotReadyError
from reconcile.ports import AnchorBook, AnchorHolder


class Ownership:
    """The anchor book as one target sees it, with what was already asked kept at hand."""

    def __init__(self, book: AnchorBook, target: str) -> None:
        self.book = book
        self.target = target
        self._holders: dict[str, list[AnchorHolder]] = {}
        self._anchors: dict[str, str | None] = {}

    def learn(self, anchors: Iterable[str] = (), scim_ids: Iterable[str] = ()) -> Ownership:
        """Ask for many at once, ahead of the applies that will want them."""
        wanted = [a for a in dict.fromkeys(anchors) if a and a not in self._holders]
        if wanted:
            found = self.book.holders(self.target, wanted)
            for anchor in wanted:
                self._holders[anchor] = found.get(anchor, [])
        ids = [i for i in dict.fromkeys(scim_ids) if i and i not in self._anchors]
        if ids:
            known = self.book.anchors_of(self.target, ids)
            for scim_id in ids:
                self._anchors[scim_id] = known.get(scim_id)
        return self

    def fork(self) -> Ownership:
        """A copy with what is known so far, for one apply's thread."""
        copy = Ownership(self.book, self.target)
        copy._holders = dict(self._holders)
        copy._anchors = dict(self._anchors)
        return copy

    def holders(self, anchor: str) -> list[AnchorHolder]:
        self.learn(anchors=[anchor])
        return self._holders[anchor]

    def anchors_of(self, scim_ids: Sequence[str]) -> dict[str, str]:
        self.learn(scim_ids=scim_ids)
        return {i: a for i in scim_ids if (a := self._anchors.get(i)) is not None}

    def refuse_others(self, anchors: Sequence[str], owner: str, what: str) -> None:
        """Raise unless every entry among ``anchors`` is free or ``owner``'s own.

        Another live resource's entry is a clash that no retry mends (the directory cannot hold
        both names): a dead letter naming both. An entry whose holder Entra deleted is that
        holder's until its delete is applied, which the run orders first: wait for it.
        """
        self.learn(anchors=anchors)
        for anchor in anchors:
            others = [h for h in self._holders.get(anchor, []) if h.scim_id != owner]
            live = [h for h in others if not h.deleting]
            if live:
                raise ClashError(
                    f"{what}: the name collides in LDAP with {live[0].describe()}, whose entry "
                    "it is (the directory compares names ignoring case, width and extra "
                    "spaces); rename one of them in Entra"
                )
            if others:
                raise NotReadyError(
                    f"{what}: the entry is still {others[0].describe()}'s, deleted in Entra; "
                    "waiting for that delete"
                )
