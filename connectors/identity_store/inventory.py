"""The Identity Manager store read back: what a record holds, for the planner and the full
reconcile, and who may take over a record a user's ID already has.

Only records that carry a ``scim_id`` are scim-sync's to manage: a record made before
scim-sync (no anchor) is never reported as an orphan.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, select, update

from connectors.identity_store.planner import StoreObserved
from connectors.identity_store.roles import read_roles_for
from connectors.identity_store.tables import group_members, groups, identities
from reconcile.errors import ClashError, PermanentTargetError, TargetError, TransientTargetError
from reconcile.model import Desired, DesiredGroup, DesiredIdentity, ResourceKind, Tombstone
from reconcile.ports import AnchorBook, Found

I = identities.c  # noqa: E741
G = groups.c
GM = group_members.c
PAGE = 1000
TARGET = "identity_store"

ADOPT_POLICIES = ("unanchored", "anywhere", "never")
"""SCIM_SYNC_IDM_ADOPT: which existing record with a user's ID it may take over."""

# Statements built once: building them per apply cost more than running them.
_BY_SCIM_ID = select(identities).where(I.scim_id == bindparam("scim_id"))
_BY_USER_ID = select(identities).where(I.user_id == bindparam("user_id"))
_GROUP = select(groups).where(G.scim_id == bindparam("scim_id"))
_MEMBERS = select(GM.user_id).where(GM.group_scim_id == bindparam("scim_id"))


class StoreReader:
    """Reads records as the planner needs them; the target runs it inside its transaction."""

    def __init__(self, anchors: AnchorBook, adopt: str) -> None:
        if adopt not in ADOPT_POLICIES:
            raise ValueError(f"adoption policy must be one of {', '.join(ADOPT_POLICIES)}")
        self._anchors = anchors
        self._adopt = adopt

    def observe(self, conn: Connection, desired: Desired) -> StoreObserved:
        try:
            observed = self._observe(conn, desired)
        except TargetError as exc:
            return StoreObserved(None, refused=exc)
        row = observed.row or observed.adoptable
        if isinstance(desired, DesiredIdentity) and row is not None:
            roles = read_roles_for(conn, [row["user_id"]]).get(row["user_id"], [])
            return replace(observed, roles=tuple(roles))
        return observed

    def _observe(self, conn: Connection, desired: Desired) -> StoreObserved:
        params = {"scim_id": desired.scim_id}
        if desired.kind is ResourceKind.USER:
            row = conn.execute(_BY_SCIM_ID, params).mappings().first()
            if isinstance(desired, Tombstone) or not isinstance(desired, DesiredIdentity):
                return StoreObserved(row)
            if row is not None and row["user_id"] == desired.user_id:
                return StoreObserved(row)
            occupant = conn.execute(_BY_USER_ID, {"user_id": desired.user_id}).mappings().first()
            if row is not None:  # a rename: the new user ID must be free
                if occupant is not None:
                    self._refuse_holder(desired, occupant["scim_id"])
                    raise TransientTargetError(
                        f"cannot rename '{row['user_id']}' to '{desired.user_id}': user ID "
                        f"'{desired.user_id}' is held by another record (scim id "
                        f"{occupant['scim_id']}); waiting for it to be renamed or deleted"
                    )
                return StoreObserved(row)
            if occupant is None:
                return StoreObserved(None)
            self._may_adopt(desired, occupant["scim_id"])
            return StoreObserved(None, adoptable=occupant)
        row = conn.execute(_GROUP, params).mappings().first()
        if isinstance(desired, Tombstone):
            return StoreObserved(row)
        assert isinstance(desired, DesiredGroup)
        members = frozenset(conn.execute(_MEMBERS, params).scalars()) if row else frozenset()
        wanted = {m.user_id for m in desired.members} - members
        known = (
            frozenset(conn.execute(select(I.user_id).where(I.user_id.in_(wanted))).scalars())
            if wanted
            else frozenset[str]()
        )
        return StoreObserved(row, members=members, known=known)

    def _may_adopt(self, desired: DesiredIdentity, occupant: str | None) -> None:
        """Raise unless the record holding ``desired``'s user ID may become ``desired``'s.

        Another staged resource's record is never taken (see :meth:`_refuse_holder`). One that
        no staged resource holds is taken only as ``SCIM_SYNC_IDM_ADOPT`` allows: ``unanchored``
        (the default) adopts records without a ``scim_id`` (made before scim-sync managed the
        store), ``anywhere`` also records anchored to a resource that no longer exists,
        ``never`` neither.
        """
        if occupant is not None:
            self._refuse_holder(desired, occupant)
        allowed = self._adopt == "anywhere" or (self._adopt == "unanchored" and occupant is None)
        if not allowed:
            whose = f"anchored to scim id {occupant}, which" if occupant else "without a scim_id,"
            raise PermanentTargetError(
                f"user ID '{desired.user_id}' already has a record ({whose} no staged resource "
                f"made) and SCIM_SYNC_IDM_ADOPT={self._adopt} forbids taking it over; delete or "
                "rename that record, or change the adoption policy"
            )

    def _refuse_holder(self, desired: DesiredIdentity, occupant: str) -> None:
        """A record held by another staged resource: a dead letter naming both when that
        resource keeps the name (they cannot both have it), a wait when it is being renamed
        away or deleted. Returns when no staged resource holds the record."""
        holders = [
            h
            for h in self._anchors.holders(TARGET, [occupant]).get(occupant, [])
            if h.scim_id != desired.scim_id
        ]
        if not holders:
            return
        holder = holders[0]
        if holder.deleting or holder.name != desired.user_id:
            raise TransientTargetError(
                f"user ID '{desired.user_id}' is held by {holder.describe()}; waiting for it "
                "to be renamed or deleted"
            )
        raise ClashError(
            f"user '{desired.user_id}' (id {desired.scim_id}): the user ID collides in the "
            f"Identity Manager store with {holder.describe()}; rename one of them in Entra"
        )


def inventory(engine: Engine, kind: ResourceKind) -> Iterator[Found[StoreObserved]]:
    """Keyset pages, so memory stays flat however large the store is."""
    after = ""
    while True:
        with engine.connect() as conn:
            if kind is ResourceKind.USER:
                rows = (
                    conn.execute(
                        select(identities)
                        .where(I.scim_id.is_not(None), I.user_id > after)
                        .order_by(I.user_id)
                        .limit(PAGE)
                    )
                    .mappings()
                    .all()
                )
                if not rows:
                    return
                after = rows[-1]["user_id"]
                roles = read_roles_for(conn, [r["user_id"] for r in rows])  # the page's, at once
                page = [
                    _found(
                        kind,
                        r,
                        r["user_id"],
                        StoreObserved(r, roles=tuple(roles.get(r["user_id"], ()))),
                    )
                    for r in rows
                ]
            else:
                rows = (
                    conn.execute(
                        select(groups).where(G.scim_id > after).order_by(G.scim_id).limit(PAGE)
                    )
                    .mappings()
                    .all()
                )
                if not rows:
                    return
                after = rows[-1]["scim_id"]
                members: dict[str, set[str]] = {r["scim_id"]: set() for r in rows}
                for group_id, user_id in conn.execute(
                    select(GM.group_scim_id, GM.user_id).where(GM.group_scim_id.in_(members))
                ):
                    members[group_id].add(user_id)
                page = [
                    _found(
                        kind,
                        r,
                        r["display_name"],
                        StoreObserved(r, members=frozenset(members[r["scim_id"]])),
                    )
                    for r in rows
                ]
        yield from page


def _found(kind: ResourceKind, row: Any, name: str, state: StoreObserved) -> Found[StoreObserved]:
    return Found(kind, row["scim_id"], row["scim_id"], name, name, state)


def remove(engine: Engine, found: Found[StoreObserved]) -> None:
    with engine.begin() as conn:
        if found.kind is ResourceKind.GROUP:
            conn.execute(delete(group_members).where(GM.group_scim_id == found.anchor))
            conn.execute(delete(groups).where(G.scim_id == found.anchor))
        else:
            conn.execute(delete(group_members).where(GM.user_id == found.name))
            conn.execute(
                update(identities)
                .where(I.manager_user_id == found.name)
                .values(manager_user_id=None)
            )
            conn.execute(delete(identities).where(I.scim_id == found.anchor))
