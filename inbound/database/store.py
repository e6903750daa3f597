"""Staged SCIM resources: every accepted write is one transaction that updates the resource,
bumps its generation, rewrites its attribute index and appends an audit event.

Answers to Entra come from here (read-your-writes); the reconciler reads the same rows.
The hot statements run as precompiled SQL (:mod:`inbound.database.rows`); a general filter or
a sort compiles through SQLAlchemy (:mod:`inbound.database.query`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select
from uuid_utils import uuid7

from inbound.database.lookup import hot_lookup
from inbound.database.marks import mark_changed
from inbound.database.membership import apply_member_steps
from inbound.database.query import select_ids, sort_key
from inbound.database.resource_writes import columns, index, name_field, name_key, rewrite
from inbound.database.rows import COLUMNS, DuplicateError, GroupCommit, Rows
from inbound.database.stored import Stored, StoredReader
from inbound.database.tables import reading, resources
from inbound.errors import ScimError, uniqueness
from inbound.filter import AttrPath, Filter
from inbound.patch import MemberStep, apply_patch
from inbound.resource import check_immutable, check_indexed, normalise
from inbound.schema import ResourceType

log = logging.getLogger(__name__)
R = resources.c

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a request, for the audit log: a token id or "admin", and the request id."""

    name: str
    request_id: str | None = None


class ResourceStore:
    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock,
        on_change: Callable[[], None] = lambda: None,
        targets: Sequence[str] = (),
        max_members_per_request: int = 10_000,
    ) -> None:
        self._engine = engine
        self._rows = Rows(engine)
        self._reader = StoredReader(self._rows, targets)
        self._clock = clock
        self._on_change = on_change
        self._targets = list(targets)
        self._max_members = max_members_per_request

    def claim_thread(self) -> None:
        """Keep the store's own connection for the calling thread (see ``Rows.claim``)."""
        self._rows.claim()

    def close(self) -> None:
        """Give back the connection the event loop's thread keeps (see ``Rows``)."""
        self._rows.close()

    def claim_writer_thread(self) -> None:
        """SQLite: the calling thread writes every group commit (see ``Rows.claim_writer``)."""
        self._rows.claim_writer()

    @property
    def blocking(self) -> bool:
        """Whether calls wait on a server (PostgreSQL) rather than a local file (SQLite)."""
        return not self._rows.sqlite

    # ---- reads -------------------------------------------------------------------------

    def get(
        self,
        rt: ResourceType,
        scim_id: str,
        *,
        with_members: bool = True,
        with_groups: bool = True,
        with_sync: bool = False,
    ) -> Stored:
        groups = rt.is_user and with_groups
        with self._rows.transaction(write=False) as cur:
            stored = self._reader.fetch(cur, rt, scim_id, lock=False, groups=groups)
            self._reader.decorate(cur, rt, [stored], with_members, with_sync)
            return stored

    def search(
        self,
        rt: ResourceType,
        node: Filter | None,
        *,
        start_index: int = 1,
        count: int | None = None,
        with_members: bool = True,
        with_groups: bool = True,
        with_sync: bool = False,
        sort_by: AttrPath | None = None,
        descending: bool = False,
    ) -> tuple[int, list[Stored]]:
        """One page of matches (1-based ``start_index``) and the total number of matches.

        Without ``sort_by`` the order is creation order, stable across pages; with it, resources
        without a value come last in ascending order and first in descending order.
        """
        hot = hot_lookup(rt, node) if sort_by is None else None
        if hot is not None:
            groups = rt.is_user and with_groups
            groups_column = self._reader.groups_column if groups else "NULL"
            with self._rows.transaction(write=False) as cur:
                cur.execute(
                    self._rows.sql(
                        f"SELECT {COLUMNS}, {groups_column}, kind "  # noqa: S608 - constants only
                        f"FROM scim_resources WHERE {hot.where} "
                        + ("" if hot.by_id else "AND kind = ? ")
                        + "AND deleted_at IS NULL"
                        + ("" if hot.unique else " ORDER BY created_at, scim_id")
                    ),
                    [*hot.params] if hot.by_id else [*hot.params, rt.name],
                )
                field = name_field(rt)
                matches = [
                    stored
                    for stored in (
                        self._reader.with_groups(row[:-1], groups)
                        for row in cur.fetchall()
                        if row[-1] == rt.name
                    )
                    if not hot.names or hot.confirms(str(stored.data.get(field, "")))
                ]
                end = None if count is None else start_index - 1 + count
                page = matches[start_index - 1 : end]
                self._reader.decorate(cur, rt, page, with_members, with_sync)
                return len(matches), page
        order: list[Any] = []
        if sort_by is not None:
            key = sort_key(rt, sort_by)
            order.append(key.desc().nulls_first() if descending else key.asc().nulls_last())
        ids = select_ids(rt, node).subquery()
        with reading(self._engine) as conn:
            total = conn.execute(select(func.count()).select_from(ids)).scalar_one()
            if count == 0 or total < start_index:
                return total, []
            query = (
                select(R.scim_id)
                .where(R.scim_id.in_(select(ids.c.scim_id)))
                .order_by(*order, R.created_at, R.scim_id)
                .offset(start_index - 1)
            )
            if count is not None:
                query = query.limit(count)
            wanted = list(conn.execute(query).scalars())
        groups = rt.is_user and with_groups
        with self._rows.transaction(write=False) as cur:
            rows = self._rows.select_in(
                cur,
                f"SELECT {COLUMNS}, {self._reader.groups_column if groups else 'NULL'} "  # noqa: S608
                "FROM scim_resources WHERE scim_id IN",
                wanted,
            )
            by_id = {row[0]: self._reader.with_groups(row, groups) for row in rows}
            page = [by_id[i] for i in wanted if i in by_id]
            self._reader.decorate(cur, rt, page, with_members, with_sync)
            return total, page

    def has_more_members(self, group_id: str, limit: int) -> bool:
        """Whether a group has more than ``limit`` members, counting no further than that.

        The probe must walk the primary key and stop after ``limit`` entries. PostgreSQL
        without statistics for the group (a table just loaded, before autovacuum analysed it)
        estimated a few hundred rows and chose to collect and sort all of them instead: 34 ms
        for a group of 100k, against 1 ms walking the index. So on PostgreSQL the probe runs
        in a transaction of its own that rules out those plans."""
        if limit <= 0:
            return True
        probe = self._rows.sql(
            "SELECT 1 FROM scim_members WHERE group_id = ? "
            "ORDER BY group_id, member_id LIMIT 1 OFFSET ?"
        )
        if self._rows.sqlite:
            with self._rows.transaction(write=False) as cur:
                cur.execute(probe, [group_id, limit])
                return cur.fetchone() is not None
        with self._rows.transaction(write=True) as cur:
            cur.execute(
                "SELECT set_config('enable_sort', 'off', true), "
                "set_config('enable_bitmapscan', 'off', true)"
            )
            cur.fetchone()
            cur.execute(probe, [group_id, limit])
            return cur.fetchone() is not None

    def lock_ahead(self, scim_ids: Sequence[str]) -> None:
        """Read and lock the rows a PostgreSQL group commit is about to change, in one round
        trip (see :meth:`StoredReader.lock_ahead`)."""
        self._reader.lock_ahead(scim_ids)

    # ---- writes ------------------------------------------------------------------------

    def create(self, rt: ResourceType, body: Any, actor: Actor) -> Stored:
        data, initial_members = normalise(rt, body)
        check_indexed(rt, None, data)
        now = self._clock()
        scim_id = str(uuid7())
        # no uniqueness pre-check: the live-name index refuses a duplicate, and skipping the
        # read lets PostgreSQL take the whole create in one round trip (see ``_write``)
        with self._write(rt, data) as cur:
            cur.execute(
                self._rows.sql(
                    "INSERT INTO scim_resources (scim_id, kind, name_key, external_id, "
                    "display_name, active, data, generation, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)"
                ),
                [
                    scim_id,
                    rt.name,
                    *columns(self._rows, rt, data),
                    self._rows.json_in(data),
                    self._rows.time_in(now),
                    self._rows.time_in(now),
                ],
            )
            index(self._rows, cur, rt, scim_id, data)
            if initial_members:
                apply_member_steps(
                    self._rows,
                    cur,
                    scim_id,
                    self._max_members,
                    [MemberStep("add", tuple(initial_members))],
                )
            self._audit(cur, actor, rt, scim_id, "create", 1, now, {"attributes": sorted(data)})
            self._mark(cur, rt, scim_id, 1, data, now)
        self._rows.after_commit(self._on_change)
        if initial_members:
            return self.get(rt, scim_id)
        return Stored(
            scim_id, data, 1, now, now, [] if rt.is_group else None, [] if rt.is_user else None
        )

    def replace(
        self, rt: ResourceType, scim_id: str, body: Any, actor: Actor, if_match: str | None = None
    ) -> Stored:
        data, new_members = normalise(rt, body)
        now = self._clock()
        with self._write(rt) as cur:
            current = self._current(cur, rt, scim_id, if_match)
            check_immutable(rt, current.data, data)
            check_indexed(rt, current.data, data)
            self._check_unique(cur, rt, data, scim_id)
            generation = current.generation + 1
            rewrite(self._rows, cur, rt, scim_id, generation, now, current.data, data)
            if rt.is_group and new_members is not None:
                apply_member_steps(
                    self._rows,
                    cur,
                    scim_id,
                    self._max_members,
                    [MemberStep("replace", tuple(new_members))],
                )
            self._audit(
                cur, actor, rt, scim_id, "replace", generation, now, {"attributes": sorted(data)}
            )
            self._mark(cur, rt, scim_id, generation, data, now)
        self._rows.after_commit(self._on_change)
        return self.get(rt, scim_id)

    def patch(
        self,
        rt: ResourceType,
        scim_id: str,
        body: Any,
        actor: Actor,
        if_match: str | None = None,
        *,
        with_members: bool = True,
        with_groups: bool = True,
    ) -> Stored:
        """All operations or none; a PATCH that changes nothing leaves the generation alone.

        ``with_members=False`` answers without reading the membership table, so a PATCH to a
        group of 100k members costs what it costs for a group of 10.
        """
        now = self._clock()
        with self._write(rt) as cur:
            current = self._current(cur, rt, scim_id, if_match, with_groups=with_groups)
            result = apply_patch(rt, current.data, body)
            changed = result.data != current.data
            member_changes = apply_member_steps(
                self._rows, cur, scim_id, self._max_members, result.member_steps
            )
            stored = current
            if changed or member_changes:
                generation = current.generation + 1
                if changed:
                    check_indexed(rt, current.data, result.data)
                    field = name_field(rt)
                    if result.data.get(field) != current.data.get(field) and name_key(
                        rt, result.data
                    ) != name_key(rt, current.data):
                        self._check_unique(cur, rt, result.data, scim_id)
                    rewrite(
                        self._rows, cur, rt, scim_id, generation, now, current.data, result.data
                    )
                else:
                    cur.execute(
                        self._rows.sql(
                            "UPDATE scim_resources SET generation = ?, updated_at = ? "
                            "WHERE scim_id = ?"
                        ),
                        [generation, self._rows.time_in(now), scim_id],
                    )
                detail: dict[str, Any] = {"paths": sorted(set(result.touched))}
                if member_changes:
                    detail["members"] = member_changes
                self._audit(cur, actor, rt, scim_id, "patch", generation, now, detail)
                self._mark(cur, rt, scim_id, generation, result.data, now)
                stored = Stored(
                    scim_id, result.data, generation, current.created_at, now, None, current.groups
                )
            self._reader.decorate(cur, rt, [stored], with_members)
        if changed or member_changes:
            self._rows.after_commit(self._on_change)
        return stored

    def delete(
        self, rt: ResourceType, scim_id: str, actor: Actor, if_match: str | None = None
    ) -> None:
        """Leaves a tombstone: targets must still observe the delete before it is purged."""
        now = self._clock()
        with self._write(rt) as cur:
            current = self._current(cur, rt, scim_id, if_match)
            generation = current.generation + 1
            stamp = self._rows.time_in(now)
            cur.execute(
                self._rows.sql(
                    "UPDATE scim_resources SET generation = ?, updated_at = ?, deleted_at = ? "
                    "WHERE scim_id = ?"
                ),
                [generation, stamp, stamp, scim_id],
            )
            cur.execute(self._rows.sql("DELETE FROM scim_attr_values WHERE scim_id = ?"), [scim_id])
            cur.execute(
                self._rows.sql("DELETE FROM scim_members WHERE group_id = ? OR member_id = ?"),
                [scim_id, scim_id],
            )
            self._audit(cur, actor, rt, scim_id, "delete", generation, now, None)
            self._mark(cur, rt, scim_id, generation, None, now)
        self._rows.after_commit(self._on_change)

    # ---- helpers -----------------------------------------------------------------------

    def group_commit(self, isolate: bool = True) -> AbstractContextManager[GroupCommit]:
        """Several writes as one transaction (see :meth:`Rows.group_commit`)."""
        return self._rows.group_commit(isolate)

    @contextmanager
    def _write(self, rt: ResourceType, data: dict[str, Any] | None = None) -> Iterator[Any]:
        """A write transaction. A unique-index refusal becomes a 409; with the written ``data``
        it names the live resource that holds the name, read after the rollback.

        A group write changes what users' rows read ahead say of their groups: those rows
        are read again."""
        group = self._rows.open_group_commit() if rt.is_group else None
        if group is not None:
            group.ahead.clear()
        try:
            with self._rows.transaction(write=True) as cur:
                yield cur
        except DuplicateError as error:
            if data is not None:
                with self._rows.transaction(write=False) as cur:
                    self._check_unique(cur, rt, data, None)
            field = name_field(rt)
            raise uniqueness(f"a {rt.name} with this {field} already exists") from error

    def _current(
        self,
        cur: Any,
        rt: ResourceType,
        scim_id: str,
        if_match: str | None,
        *,
        with_groups: bool = False,
    ) -> Stored:
        """The resource, locked for this write; with its ``groups`` when asked (a user's groups
        do not change by writing the user), read in the same round trip."""
        stored = self._reader.fetch(cur, rt, scim_id, lock=True, groups=rt.is_user and with_groups)
        if if_match is not None and if_match.strip() != "*":
            wanted = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
            if stored.etag.removeprefix("W/") not in wanted:
                raise ScimError(
                    412,
                    f"{rt.name} '{scim_id}' changed: its version is {stored.etag}, "
                    f"If-Match asked for {if_match}",
                    "invalidVers",
                )
        return stored

    def _check_unique(
        self, cur: Any, rt: ResourceType, data: dict[str, Any], scim_id: str | None
    ) -> None:
        cur.execute(
            self._rows.sql(
                "SELECT scim_id FROM scim_resources WHERE kind = ? AND name_key = ? "
                "AND deleted_at IS NULL AND scim_id <> ? LIMIT 1"
            ),
            [rt.name, name_key(rt, data), scim_id or ""],
        )
        clash = cur.fetchone()
        if clash is not None:
            field = name_field(rt)
            raise uniqueness(
                f"{field} '{data[field]}' is taken by the {rt.name} with id {clash[0]}: "
                f"{field}s are compared ignoring case, Unicode width and spacing (leading, "
                "trailing and repeated spaces)"
            )

    def _mark(
        self,
        cur: Any,
        rt: ResourceType,
        scim_id: str,
        generation: int,
        data: dict[str, Any] | None,
        now: datetime,
    ) -> None:
        """Tell every target, in this same transaction, that there is a generation to reach."""
        mark_changed(
            self._rows,
            cur,
            scim_id=scim_id,
            kind=rt.name,
            generation=generation,
            deleted=data is None,
            active=data is not None and data.get("active", True) is not False,
            targets=self._targets,
            now=now,
        )

    def _audit(
        self,
        cur: Any,
        actor: Actor,
        rt: ResourceType,
        scim_id: str,
        operation: str,
        generation: int,
        now: datetime,
        detail: dict[str, Any] | None,
    ) -> None:
        cur.execute(
            self._rows.sql(
                "INSERT INTO audit_events (at, request_id, actor, scim_id, kind, operation, "
                "generation, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?, 'ok', ?)"
            ),
            [
                self._rows.time_in(now),
                actor.request_id,
                actor.name,
                scim_id,
                rt.name,
                operation,
                generation,
                None if detail is None else self._rows.json_in(detail),
            ],
        )
