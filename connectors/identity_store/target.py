"""The Identity Manager store as a reconcile target: upsert by anchor, deltas for members.

Every apply is one transaction that reads the observed record, compares it with the desired
identity and writes only the difference, so repeating an apply after a crash is harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError

from connectors.identity_store.inventory import IdentityStoreInventory
from connectors.identity_store.tables import group_members, groups, identities
from reconcile.drift import IDENTITY_ATTRIBUTES
from reconcile.errors import (
    NotReadyError,
    PermanentTargetError,
    TargetUnavailableError,
    TransientTargetError,
)
from reconcile.model import Desired, DesiredGroup, DesiredIdentity, ResourceKind, Tombstone
from reconcile.ports import Action, AnchorBook, Applied

log = logging.getLogger(__name__)
I = identities.c  # noqa: E741
G = groups.c
GM = group_members.c

TRANSIENT_SQLSTATES = ("40001", "40P01", "55P03", "57P01", "57P02", "57P03", "53300")

ADOPT_POLICIES = ("unanchored", "anywhere", "never")
"""SCIM_SYNC_IDM_ADOPT: which existing record with a user's ID it may take over."""

IDENTITY_FIELDS = tuple(a for a in IDENTITY_ATTRIBUTES if a != "user_id")
"""The columns of a record besides its key, named as in the desired state."""


def classify(exc: SQLAlchemyError) -> Exception:
    """Map a database error onto the reconciler's error classes, most specific first."""
    orig = getattr(exc, "orig", None)
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    text = str(orig or exc)
    if isinstance(exc, IntegrityError):
        return PermanentTargetError(f"the Identity Manager store refused the change: {text}")
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return TargetUnavailableError(f"lost the connection to the Identity Manager store: {text}")
    if sqlstate and (sqlstate.startswith("08") or sqlstate in TRANSIENT_SQLSTATES):
        return TransientTargetError(f"the Identity Manager store is busy: {text}")
    if "database is locked" in text or "database is busy" in text:
        return TransientTargetError("the Identity Manager store is locked by another writer")
    if isinstance(exc, OperationalError):
        return TargetUnavailableError(f"the Identity Manager store is unavailable: {text}")
    return PermanentTargetError(f"the Identity Manager store failed: {text}")


# Statements built once: building them per apply cost more than running them.
_BY_SCIM_ID = select(identities).where(I.scim_id == bindparam("scim_id"))
_OCCUPANT = select(I.scim_id).where(I.user_id == bindparam("user_id"))
_INSERT = insert(identities)
_UPDATE = update(identities).where(I.scim_id == bindparam("w_scim_id"))


class IdentityStoreTarget(IdentityStoreInventory):
    """Applies desired state; reads back through :class:`IdentityStoreInventory`."""

    name = "identity_store"

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], datetime],
        anchors: AnchorBook,
        adopt: str = "unanchored",
    ) -> None:
        super().__init__(engine)
        if adopt not in ADOPT_POLICIES:
            raise ValueError(f"adoption policy must be one of {', '.join(ADOPT_POLICIES)}")
        self._engine = engine
        self._clock = clock
        self._anchors = anchors
        self._adopt = adopt

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        try:
            with self._engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise classify(exc) from exc

    def apply(self, desired: Desired, anchor: str | None) -> Applied:
        waiting: str | None = None
        with self._transaction() as conn:
            if isinstance(desired, DesiredIdentity):
                applied = self._identity(conn, desired)
            elif isinstance(desired, DesiredGroup):
                applied, waiting = self._group(conn, desired)
            else:
                applied = self._tombstone(conn, desired)
        if waiting:  # what could be applied is committed; the rest waits for its users
            raise NotReadyError(waiting, anchor=applied.anchor)
        return applied

    # ---- users -------------------------------------------------------------------------

    def _identity(self, conn: Connection, desired: DesiredIdentity) -> Applied:
        now = self._clock()
        wanted = {field: getattr(desired, field) for field in IDENTITY_FIELDS}
        row = conn.execute(_BY_SCIM_ID, {"scim_id": desired.scim_id}).mappings().first()
        if row is None:
            occupant = conn.execute(_OCCUPANT, {"user_id": desired.user_id}).first()
            if occupant is not None:
                self._may_adopt(desired, occupant.scim_id)
            if occupant is None:
                conn.execute(
                    _INSERT,
                    {
                        "user_id": desired.user_id,
                        "scim_id": desired.scim_id,
                        "created_at": now,
                        "updated_at": now,
                        **wanted,
                    },
                )
                return Applied(Action.CREATED, desired.scim_id)
            # A record scim-sync did not make (or whose maker is gone), allowed by the policy.
            conn.execute(
                update(identities)
                .where(I.user_id == desired.user_id)
                .values(scim_id=desired.scim_id, updated_at=now, **wanted)
            )
            return Applied(Action.UPDATED, desired.scim_id)
        changes = {k: v for k, v in wanted.items() if row[k] != v}
        old_user_id = row["user_id"]
        if old_user_id != desired.user_id:
            self._rename(conn, desired, old_user_id)
            changes["user_id"] = desired.user_id
        if not changes:
            return Applied(Action.UNCHANGED, desired.scim_id)
        conn.execute(
            _UPDATE,
            {"w_scim_id": desired.scim_id, "user_id": desired.user_id, "updated_at": now, **wanted},
        )
        if changes.get("active") is False:
            return Applied(Action.DISABLED, desired.scim_id)
        return Applied(Action.UPDATED, desired.scim_id)

    def _rename(self, conn: Connection, desired: DesiredIdentity, old: str) -> None:
        """A userName change moves the key; memberships and manager references follow."""
        new = desired.user_id
        occupant = conn.execute(select(I.scim_id).where(I.user_id == new)).first()
        if occupant is not None:
            self._refuse_holder(desired, occupant.scim_id)
            raise TransientTargetError(
                f"cannot rename '{old}' to '{new}': user ID '{new}' is held by another record "
                f"(scim id {occupant.scim_id}); waiting for it to be renamed or deleted"
            )
        conn.execute(update(group_members).where(GM.user_id == old).values(user_id=new))
        conn.execute(update(identities).where(I.manager_user_id == old).values(manager_user_id=new))

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
            for h in self._anchors.holders(self.name, [occupant]).get(occupant, [])
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
        raise PermanentTargetError(
            f"user '{desired.user_id}' (id {desired.scim_id}): the user ID collides in the "
            f"Identity Manager store with {holder.describe()}; rename one of them in Entra"
        )

    # ---- groups ------------------------------------------------------------------------

    def _group(self, conn: Connection, desired: DesiredGroup) -> tuple[Applied, str | None]:
        now = self._clock()
        row = conn.execute(select(groups).where(G.scim_id == desired.scim_id)).mappings().first()
        action = Action.UNCHANGED
        if row is None:
            conn.execute(
                insert(groups).values(
                    scim_id=desired.scim_id,
                    display_name=desired.display_name,
                    external_id=desired.external_id,
                    created_at=now,
                    updated_at=now,
                )
            )
            action = Action.CREATED
        elif (row["display_name"], row["external_id"]) != (
            desired.display_name,
            desired.external_id,
        ):
            conn.execute(
                update(groups)
                .where(G.scim_id == desired.scim_id)
                .values(
                    display_name=desired.display_name,
                    external_id=desired.external_id,
                    updated_at=now,
                )
            )
            action = Action.UPDATED
        wanted = {m.user_id for m in desired.members}
        current = set(
            conn.execute(select(GM.user_id).where(GM.group_scim_id == desired.scim_id)).scalars()
        )
        extra = current - wanted
        missing = wanted - current
        if extra:
            conn.execute(
                delete(group_members).where(
                    GM.group_scim_id == desired.scim_id, GM.user_id.in_(extra)
                )
            )
        known = (
            set(conn.execute(select(I.user_id).where(I.user_id.in_(missing))).scalars())
            if missing
            else set()
        )
        if known:
            conn.execute(
                insert(group_members),
                [{"group_scim_id": desired.scim_id, "user_id": u} for u in sorted(known)],
            )
        if (extra or known) and action is Action.UNCHANGED:
            action = Action.UPDATED
        waiting = sorted(missing - known)
        reason = (
            f"waiting for {len(waiting)} member(s) not yet in the store: {', '.join(waiting[:5])}"
            if waiting
            else None
        )
        return Applied(action, desired.scim_id), reason

    # ---- deletes -----------------------------------------------------------------------

    def _tombstone(self, conn: Connection, desired: Tombstone) -> Applied:
        if desired.kind is ResourceKind.GROUP:
            conn.execute(delete(group_members).where(GM.group_scim_id == desired.scim_id))
            gone = conn.execute(delete(groups).where(G.scim_id == desired.scim_id)).rowcount
            return Applied(Action.DELETED if gone else Action.UNCHANGED, None)
        user_id = conn.execute(select(I.user_id).where(I.scim_id == desired.scim_id)).scalar()
        if user_id is None:
            return Applied(Action.UNCHANGED, None)
        conn.execute(delete(group_members).where(GM.user_id == user_id))
        conn.execute(
            update(identities).where(I.manager_user_id == user_id).values(manager_user_id=None)
        )
        conn.execute(delete(identities).where(I.scim_id == desired.scim_id))
        return Applied(Action.DELETED, None)
