"""The Identity Manager store as a reconcile target: upsert by anchor, deltas for members.

Every apply is one transaction: it reads the records (:mod:`.inventory`), decides with the
store's planner (:mod:`.planner`) and writes exactly the planned changes, so repeating an apply
after a crash is harmless and a dry run lists what the apply writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError

from connectors.identity_store import inventory
from connectors.identity_store.inventory import ADOPT_POLICIES, StoreReader
from connectors.identity_store.planner import StoreObserved, plan, roles_of
from connectors.identity_store.roles import write_roles_many
from connectors.identity_store.tables import group_members, groups, identities
from reconcile.changes import Change, ChangeAction, applied, refuse_first, wait_after
from reconcile.errors import PermanentTargetError, TargetUnavailableError, TransientTargetError
from reconcile.mapping import TargetMapping
from reconcile.model import Desired, DesiredGroup, DesiredIdentity, ResourceKind, Tombstone
from reconcile.ports import AnchorBook, Applied, Found, TargetBase, Work

log = logging.getLogger(__name__)
I = identities.c  # noqa: E741
G = groups.c
GM = group_members.c

TRANSIENT_SQLSTATES = ("40001", "40P01", "55P03", "57P01", "57P02", "57P03", "53300")

__all__ = ["ADOPT_POLICIES", "IdentityStoreTarget", "classify"]


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


_UPDATE_BY_SCIM_ID = update(identities).where(I.scim_id == bindparam("w_scim_id"))
_INSERT = {ResourceKind.USER: insert(identities), ResourceKind.GROUP: insert(groups)}


class IdentityStoreTarget(TargetBase[StoreObserved]):
    """Observes, plans and writes inside one transaction per apply."""

    name = "identity_store"

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], datetime],
        anchors: AnchorBook,
        adopt: str = "unanchored",
        mapping: TargetMapping | None = None,
    ) -> None:
        """``mapping`` is the store's declarative mapping (its extra attributes), None for
        the columns alone."""
        self._reader = StoreReader(anchors, adopt)
        self._mapping = mapping
        self._engine = engine
        self._clock = clock

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        try:
            with self._engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise classify(exc) from exc

    # ---- the contract --------------------------------------------------------------------

    def observe(self, work: Work) -> list[StoreObserved]:
        try:
            with self._engine.connect() as conn:
                return [self._reader.observe(conn, desired) for desired, _ in work]
        except SQLAlchemyError as exc:
            raise classify(exc) from exc

    def plan(self, desired: Desired, observed: StoreObserved) -> list[Change]:
        return plan(desired, observed, self._mapping)

    def apply(self, desired: Desired, anchor: str | None) -> Applied:
        """Observe, plan and write in one transaction; a plan that waits for members commits
        what it could write, then says so."""
        with self._transaction() as conn:
            observed = self._reader.observe(conn, desired)
            changes = plan(desired, observed, self._mapping)
            done = self._execute(conn, desired, changes)
        wait_after(changes, done.anchor)
        return done

    def execute(self, desired: Desired, observed: StoreObserved, changes: list[Change]) -> Applied:
        with self._transaction() as conn:
            done = self._execute(conn, desired, changes)
        wait_after(changes, done.anchor)
        return done

    def inventory(self, kind: ResourceKind) -> Iterator[Found[StoreObserved]]:
        return inventory.inventory(self._engine, kind)

    def observe_found(
        self, work: Sequence[tuple[Desired, str | None, Found[StoreObserved]]]
    ) -> list[StoreObserved]:
        """The inventory's records as they are when they tell the planner all it needs (the
        usual case); read again only for a renamed user (is the new user ID free?) and a
        group missing members (do they have records?)."""
        out: list[StoreObserved | None] = []
        again: list[int] = []
        for i, (desired, _, found) in enumerate(work):
            state = found.state
            complete = (
                isinstance(desired, DesiredIdentity)
                and state.row is not None
                and state.row["user_id"] == desired.user_id
            ) or (
                isinstance(desired, DesiredGroup)
                and not {m.user_id for m in desired.members} - state.members
            )
            out.append(state if complete else None)
            if not complete:
                again.append(i)
        fresh = self.observe([(work[i][0], work[i][1]) for i in again]) if again else []
        for i, state in zip(again, fresh, strict=True):
            out[i] = state
        return [state for state in out if state is not None]

    def remove(self, found: Found[StoreObserved]) -> None:
        try:
            inventory.remove(self._engine, found)
        except SQLAlchemyError as exc:
            raise classify(exc) from exc

    # ---- writing the plan ----------------------------------------------------------------

    def _execute(self, conn: Connection, desired: Desired, changes: list[Change]) -> Applied:
        refuse_first(changes)
        now = self._clock()
        record: dict[str, object] = {}  # column values, from every change that sets some
        where_user_id: str | None = None  # the record adopted, found by its user ID
        for change in changes:
            action = change.action
            if action is ChangeAction.DELETE:
                self._delete(conn, desired)
                return applied(desired, changes, None)
            if action is ChangeAction.RENAME and change.locator and change.moved_to:
                self._rename(conn, change.locator, change.moved_to)
                record["user_id"] = change.moved_to
            elif action in (ChangeAction.MEMBER_ADD, ChangeAction.MEMBER_REMOVE):
                self._members(conn, desired.scim_id, action, change.members)
            elif action is ChangeAction.ADOPT:
                where_user_id = change.locator
            if action is not ChangeAction.WAIT:
                record.update({k: d for k, (_, d) in change.diff.items()})
        roles = record.pop("roles", None)  # not a column: written once the record exists
        create = next((c for c in changes if c.action is ChangeAction.CREATE), None)
        if create is not None:
            key = {"user_id": create.moved_to} if desired.kind is ResourceKind.USER else {}
            row = {**key, **record, "scim_id": desired.scim_id, "created_at": now}
            conn.execute(_INSERT[desired.kind], {**row, "updated_at": now})
        elif record and where_user_id is not None:
            conn.execute(
                update(identities)
                .where(I.user_id == where_user_id)
                .values(**record, updated_at=now)
            )
        elif record and desired.kind is ResourceKind.USER:
            conn.execute(
                _UPDATE_BY_SCIM_ID, {"w_scim_id": desired.scim_id, **record, "updated_at": now}
            )
        elif record:
            conn.execute(
                update(groups).where(G.scim_id == desired.scim_id).values(**record, updated_at=now)
            )
        if roles is not None and isinstance(desired, DesiredIdentity):
            write_roles_many(conn, {desired.user_id: roles_of(roles)})
        return applied(desired, changes, desired.scim_id)

    @staticmethod
    def _rename(conn: Connection, old: str, new: str) -> None:
        """A userName change moves the key; memberships and manager references follow."""
        conn.execute(update(group_members).where(GM.user_id == old).values(user_id=new))
        conn.execute(update(identities).where(I.manager_user_id == old).values(manager_user_id=new))

    @staticmethod
    def _members(
        conn: Connection, group: str, action: ChangeAction, user_ids: tuple[str, ...]
    ) -> None:
        if action is ChangeAction.MEMBER_ADD:
            conn.execute(
                insert(group_members), [{"group_scim_id": group, "user_id": u} for u in user_ids]
            )
        else:
            conn.execute(
                delete(group_members).where(
                    GM.group_scim_id == group, GM.user_id.in_(list(user_ids))
                )
            )

    @staticmethod
    def _delete(conn: Connection, desired: Desired) -> None:
        assert isinstance(desired, Tombstone)
        if desired.kind is ResourceKind.GROUP:
            conn.execute(delete(group_members).where(GM.group_scim_id == desired.scim_id))
            conn.execute(delete(groups).where(G.scim_id == desired.scim_id))
            return
        user_id = conn.execute(select(I.user_id).where(I.scim_id == desired.scim_id)).scalar()
        conn.execute(delete(group_members).where(GM.user_id == user_id))
        conn.execute(
            update(identities).where(I.manager_user_id == user_id).values(manager_user_id=None)
        )
        conn.execute(delete(identities).where(I.scim_id == desired.scim_id))
