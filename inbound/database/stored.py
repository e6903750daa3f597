"""Reading staged resources into :class:`Stored`: the row, a user's groups, a group's members
and the sync state, each for a whole page at once.

The hot reads and the rows a write locks run as fixed SQL on the DBAPI connection
(:mod:`inbound.database.rows`). Split from :mod:`inbound.database.store`, which writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from inbound.database.rows import COLUMNS, Rows
from inbound.database.sync_status import sync_status
from inbound.errors import not_found
from inbound.render import etag, iso
from inbound.schema import ResourceType


@dataclass(slots=True)
class Stored:
    scim_id: str
    data: dict[str, Any]
    generation: int
    created_at: datetime
    updated_at: datetime
    members: list[dict[str, Any]] | None = None
    groups: list[dict[str, Any]] | None = None
    sync: list[dict[str, Any]] | None = None
    """Where each target stands with this resource (the sync-state extension)."""

    @property
    def etag(self) -> str:
        return etag(self.generation)


_GROUPS = (
    "(SELECT {agg} FROM scim_members m JOIN scim_resources g ON g.scim_id = m.group_id "
    "WHERE m.member_id = scim_resources.scim_id AND g.deleted_at IS NULL)"
)
_SQLITE_GROUPS = _GROUPS.format(agg="json_group_array(json_array(m.group_id, g.display_name))")
_PG_GROUPS = _GROUPS.format(agg="json_agg(json_build_array(m.group_id, g.display_name))")
"""A user's groups as one JSON column of the row's own statement: on PostgreSQL a second
statement costs a round trip, during which a read in the event loop holds it up; on SQLite it
costs a statement's overhead on the hottest read. Sorted by name in Python (SQLite 3.40 has no
ORDER BY inside an aggregate)."""


class StoredReader:
    """Turns rows into :class:`Stored` resources, with what each read asks for."""

    def __init__(self, rows: Rows, targets: Sequence[str]) -> None:
        self._rows = rows
        self._targets = list(targets)

    def stored(self, row: Sequence[Any]) -> Stored:
        scim_id, data, generation, created, updated = row
        return Stored(
            scim_id,
            self._rows.json_out(data),
            generation,
            self._rows.time_out(created),
            self._rows.time_out(updated),
        )

    @property
    def groups_column(self) -> str:
        return _SQLITE_GROUPS if self._rows.sqlite else _PG_GROUPS

    def with_groups(self, row: Sequence[Any], groups: bool) -> Stored:
        """A row of ``COLUMNS`` plus the groups column (NULL when not asked)."""
        stored = self.stored(row[:-1])
        if groups:
            pairs = sorted(self._rows.json_out(row[-1]) or (), key=lambda p: (p[1] or "", p[0]))
            stored.groups = [{"value": g, "display": d} for g, d in pairs]
        return stored

    def lock_ahead(self, scim_ids: Sequence[str]) -> None:
        """Read and lock, in one round trip, the rows a PostgreSQL group commit is about to
        change, instead of one round trip per write (each write's ``fetch`` takes its row
        from here). Locked in ``scim_id`` order, then their ``sync_state`` rows in the order
        every multi-row ledger write uses (``inbound.database.locks.lock_in_key_order``), so
        two group commits, or a group commit and a worker, never wait on each other in a
        circle. A no-op outside a PostgreSQL group commit."""
        group = self._rows.open_group_commit()
        if group is None or self._rows.sqlite or not scim_ids:
            return
        wanted = sorted(set(scim_ids))
        with self._rows.transaction(write=False) as cur:
            cur.execute(
                f"SELECT {COLUMNS}, {_PG_GROUPS}, kind FROM scim_resources "  # noqa: S608 - constants only
                "WHERE scim_id = ANY(%s) AND deleted_at IS NULL ORDER BY scim_id FOR UPDATE",
                [wanted],
            )
            # their ledger rows too, in the ledger's key order: the writes mark them in arrival
            # order, which crossed the order a worker records outcomes in (a deadlock)
            group.connection.cursor().execute(
                "SELECT 1 FROM sync_state WHERE scim_id = ANY(%s) "
                "ORDER BY target, scim_id FOR UPDATE",
                [wanted],
            )
            group.ahead = {row[0]: row for row in cur.fetchall()}

    def fetch(
        self, cur: Any, rt: ResourceType, scim_id: str, *, lock: bool, groups: bool
    ) -> Stored:
        """``lock``: for a write on PostgreSQL, the row stays locked until commit, so two
        concurrent PATCHes of one resource apply one after the other instead of the second
        overwriting the first (SQLite writers are serialised by ``BEGIN IMMEDIATE``).
        ``groups``: with the groups column (``_GROUPS``).

        ``kind`` is compared here, not in SQL: with it in the WHERE clause, PostgreSQL without
        statistics yet (a freshly loaded table) chose the partial unique index on
        (kind, name_key) over the primary key and read every user to find one."""
        group = self._rows.open_group_commit() if lock else None
        row = group.ahead.pop(scim_id, None) if group is not None else None
        if row is not None:  # read and locked ahead for this group commit (``lock_ahead``)
            if row[-1] != rt.name:
                raise not_found(f"{rt.name} '{scim_id}' does not exist")
            return self.with_groups(row[:-1], groups)
        cur.execute(
            self._rows.sql(
                f"SELECT {COLUMNS}, {self.groups_column if groups else 'NULL'}, kind "  # noqa: S608 - constants only
                "FROM scim_resources WHERE scim_id = ? AND deleted_at IS NULL"
                + (" FOR UPDATE" if lock and not self._rows.sqlite else "")
            ),
            [scim_id],
        )
        row = cur.fetchone()
        if row is None or row[-1] != rt.name:
            raise not_found(f"{rt.name} '{scim_id}' does not exist")
        return self.with_groups(row[:-1], groups)

    def decorate(
        self,
        cur: Any,
        rt: ResourceType,
        page: list[Stored],
        with_members: bool,
        with_sync: bool = False,
    ) -> None:
        """A group's members and the sync state, read for a whole page at once (a user's
        groups come with its row: ``_GROUPS``)."""
        if not page:
            return
        by_id = {s.scim_id: s for s in page}
        if rt.is_group and with_members:
            for s in page:
                s.members = []
            rows = self._rows.select_in(
                cur,
                "SELECT m.group_id, m.member_id, m.member_type, r.display_name, r.data "
                "FROM scim_members m JOIN scim_resources r ON r.scim_id = m.member_id "
                "WHERE m.group_id IN",
                list(by_id),
                "ORDER BY m.group_id, m.member_id",
            )
            for group_id, member_id, member_type, display, data in rows:
                if display is None and member_type == "User":
                    display = self._rows.json_out(data).get("userName")
                entry = {"value": member_id, "type": member_type, "display": display}
                by_id[group_id].members.append(entry)  # type: ignore[union-attr]
        if with_sync and self._targets:
            self._decorate_sync(cur, by_id)

    def _decorate_sync(self, cur: Any, by_id: dict[str, Stored]) -> None:
        for s in by_id.values():
            s.sync = []
        rows = self._rows.select_in(
            cur,
            "SELECT scim_id, target, status, observed_generation, desired_generation, "
            "attempted_generation, attempts, next_attempt_at, last_error FROM sync_state "
            "WHERE scim_id IN",
            list(by_id),
            "ORDER BY scim_id, target",
        )
        for scim_id, target, status, observed, desired, attempted, attempts, due, error in rows:
            if target not in self._targets:
                continue
            entry: dict[str, Any] = {
                "target": target,
                "status": sync_status(status, observed, desired, attempted),
                "observedGeneration": observed,
                "desiredGeneration": desired,
                "attempts": attempts,
            }
            if due is not None and observed < desired:
                entry["nextAttemptAt"] = iso(self._rows.time_out(due))
            if error and observed < desired:
                entry["lastError"] = error
            by_id[scim_id].sync.append(entry)  # type: ignore[union-attr]
