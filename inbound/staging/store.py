"""Staged SCIM resources: every accepted write is one transaction that updates the resource,
bumps its generation, rewrites its attribute index and appends an audit event.

Answers to Entra come from here (read-your-writes); the reconciler reads the same rows.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from inbound.errors import ScimError, invalid_value, not_found, uniqueness
from inbound.filter import AttrPath, Filter
from inbound.patch import MemberStep, apply_patch
from inbound.render import etag
from inbound.resource import check_immutable, normalise
from inbound.schema import ResourceType
from inbound.staging.index import index_rows
from inbound.staging.query import select_ids, sort_key
from inbound.staging.tables import attr_values, audit, members, resources

log = logging.getLogger(__name__)
R = resources.c
M = members.c

READ_ONLY = {"scim_sync_read_only": True}
"""Execution option marking a read: on SQLite it may begin a deferred transaction."""

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a request, for the audit log: a token id or "admin", and the request id."""

    name: str
    request_id: str | None = None


@dataclass(slots=True)
class Stored:
    scim_id: str
    data: dict[str, Any]
    generation: int
    created_at: datetime
    updated_at: datetime
    members: list[dict[str, Any]] | None = None
    groups: list[dict[str, Any]] | None = None

    @property
    def etag(self) -> str:
        return etag(self.generation)


def _name_key(rt: ResourceType, data: dict[str, Any]) -> str:
    return str(data["userName" if rt.is_user else "displayName"]).casefold()


def _columns(rt: ResourceType, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "name_key": _name_key(rt, data),
        "external_id": data.get("externalId"),
        "display_name": data.get("displayName"),
        "active": data.get("active", True) is not False,
        "data": data,
    }


class ResourceStore:
    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock,
        on_change: Callable[[], None] = lambda: None,
        max_members_per_request: int = 10_000,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._on_change = on_change
        self._max_members = max_members_per_request

    # ---- reads -------------------------------------------------------------------------

    def get(
        self, rt: ResourceType, scim_id: str, *, with_members: bool = True, with_groups: bool = True
    ) -> Stored:
        with self._engine.connect().execution_options(**READ_ONLY) as conn:
            row = conn.execute(
                select(R.scim_id, R.data, R.generation, R.created_at, R.updated_at).where(
                    R.scim_id == scim_id, R.kind == rt.name, R.deleted_at.is_(None)
                )
            ).first()
            if row is None:
                raise not_found(f"{rt.name} '{scim_id}' does not exist")
            stored = Stored(*row)
            self._decorate(conn, rt, [stored], with_members, with_groups)
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
        sort_by: AttrPath | None = None,
        descending: bool = False,
    ) -> tuple[int, list[Stored]]:
        """One page of matches (1-based ``start_index``) and the total number of matches.

        Without ``sort_by`` the order is creation order, stable across pages; with it, resources
        without a value come last in ascending order and first in descending order.
        """
        order: list[Any] = []
        if sort_by is not None:
            key = sort_key(rt, sort_by)
            order.append(key.desc().nulls_first() if descending else key.asc().nulls_last())
        ids = select_ids(rt, node).subquery()
        with self._engine.connect().execution_options(**READ_ONLY) as conn:
            total = conn.execute(select(func.count()).select_from(ids)).scalar_one()
            if count == 0 or total < start_index:
                return total, []
            query = (
                select(R.scim_id, R.data, R.generation, R.created_at, R.updated_at)
                .where(R.scim_id.in_(select(ids.c.scim_id)))
                .order_by(*order, R.created_at, R.scim_id)
                .offset(start_index - 1)
            )
            if count is not None:
                query = query.limit(count)
            page = [Stored(*row) for row in conn.execute(query)]
            self._decorate(conn, rt, page, with_members, with_groups)
            return total, page

    def _decorate(
        self,
        conn: Connection,
        rt: ResourceType,
        page: list[Stored],
        with_members: bool,
        with_groups: bool,
    ) -> None:
        if not page:
            return
        by_id = {s.scim_id: s for s in page}
        if rt.is_group and with_members:
            for s in page:
                s.members = []
            member = resources.alias("member")
            rows = conn.execute(
                select(M.group_id, M.member_id, M.member_type, member.c.display_name, member.c.data)
                .join(member, member.c.scim_id == M.member_id)
                .where(M.group_id.in_(by_id))
                .order_by(M.group_id, M.member_id)
            )
            for group_id, member_id, member_type, display, data in rows:
                shown = display or (data.get("userName") if member_type == "User" else None)
                entry = {"value": member_id, "type": member_type, "display": shown}
                members_list = by_id[group_id].members
                assert members_list is not None
                members_list.append(entry)
        if rt.is_user and with_groups:
            for s in page:
                s.groups = []
            memberships = conn.execute(
                select(M.member_id, M.group_id, R.display_name)
                .join(resources, R.scim_id == M.group_id)
                .where(M.member_id.in_(by_id), R.deleted_at.is_(None))
                .order_by(M.member_id, R.display_name)
            )
            for member_id, group_id, display in memberships:
                groups_list = by_id[member_id].groups
                assert groups_list is not None
                groups_list.append({"value": group_id, "display": display})

    # ---- writes ------------------------------------------------------------------------

    def create(self, rt: ResourceType, body: Any, actor: Actor) -> Stored:
        data, initial_members = normalise(rt, body)
        now = self._clock()
        scim_id = str(uuid.uuid4())
        with self._write(rt) as conn:
            self._check_unique(conn, rt, data, None)
            conn.execute(
                insert(resources).values(
                    scim_id=scim_id,
                    kind=rt.name,
                    generation=1,
                    created_at=now,
                    updated_at=now,
                    **_columns(rt, data),
                )
            )
            self._reindex(conn, rt, scim_id, data, fresh=True)
            if initial_members:
                self._apply_member_steps(conn, scim_id, [MemberStep("add", tuple(initial_members))])
            self._audit(conn, actor, rt, scim_id, "create", 1, now, {"attributes": sorted(data)})
        self._on_change()
        return self.get(rt, scim_id)

    def replace(
        self, rt: ResourceType, scim_id: str, body: Any, actor: Actor, if_match: str | None = None
    ) -> Stored:
        data, new_members = normalise(rt, body)
        now = self._clock()
        with self._write(rt) as conn:
            current = self._current(conn, rt, scim_id, if_match)
            check_immutable(rt, current.data, data)
            self._check_unique(conn, rt, data, scim_id)
            generation = current.generation + 1
            conn.execute(
                update(resources)
                .where(R.scim_id == scim_id)
                .values(generation=generation, updated_at=now, **_columns(rt, data))
            )
            self._reindex(conn, rt, scim_id, data, fresh=False)
            if rt.is_group and new_members is not None:
                self._apply_member_steps(conn, scim_id, [MemberStep("replace", tuple(new_members))])
            self._audit(
                conn, actor, rt, scim_id, "replace", generation, now, {"attributes": sorted(data)}
            )
        self._on_change()
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
        with self._write(rt) as conn:
            current = self._current(conn, rt, scim_id, if_match)
            result = apply_patch(rt, current.data, body)
            changed = result.data != current.data
            member_changes = self._apply_member_steps(conn, scim_id, result.member_steps)
            if changed or member_changes:
                generation = current.generation + 1
                values: dict[str, Any] = {"generation": generation, "updated_at": now}
                if changed:
                    self._check_unique(conn, rt, result.data, scim_id)
                    values.update(_columns(rt, result.data))
                    self._reindex(conn, rt, scim_id, result.data, fresh=False)
                conn.execute(update(resources).where(R.scim_id == scim_id).values(**values))
                detail: dict[str, Any] = {"paths": sorted(set(result.touched))}
                if member_changes:
                    detail["members"] = member_changes
                self._audit(conn, actor, rt, scim_id, "patch", generation, now, detail)
        if changed or member_changes:
            self._on_change()
        return self.get(rt, scim_id, with_members=with_members, with_groups=with_groups)

    def delete(
        self, rt: ResourceType, scim_id: str, actor: Actor, if_match: str | None = None
    ) -> None:
        """Leaves a tombstone: targets must still observe the delete before it is purged."""
        now = self._clock()
        with self._write(rt) as conn:
            current = self._current(conn, rt, scim_id, if_match)
            generation = current.generation + 1
            conn.execute(
                update(resources)
                .where(R.scim_id == scim_id)
                .values(generation=generation, updated_at=now, deleted_at=now)
            )
            conn.execute(delete(attr_values).where(attr_values.c.scim_id == scim_id))
            conn.execute(delete(members).where((M.group_id == scim_id) | (M.member_id == scim_id)))
            self._audit(conn, actor, rt, scim_id, "delete", generation, now, None)
        self._on_change()

    # ---- helpers -----------------------------------------------------------------------

    @contextmanager
    def _write(self, rt: ResourceType) -> Iterator[Connection]:
        """A write transaction; a unique-index race becomes the same 409 as the pre-check."""
        try:
            with self._engine.begin() as conn:
                yield conn
        except IntegrityError as error:
            field = "userName" if rt.is_user else "displayName"
            raise uniqueness(f"a {rt.name} with this {field} already exists") from error

    def _current(
        self, conn: Connection, rt: ResourceType, scim_id: str, if_match: str | None
    ) -> Stored:
        row = conn.execute(
            select(R.scim_id, R.data, R.generation, R.created_at, R.updated_at).where(
                R.scim_id == scim_id, R.kind == rt.name, R.deleted_at.is_(None)
            )
        ).first()
        if row is None:
            raise not_found(f"{rt.name} '{scim_id}' does not exist")
        stored = Stored(*row)
        if if_match is not None and if_match.strip() != "*":
            wanted = {tag.strip() for tag in if_match.split(",")}
            if stored.etag not in wanted and stored.etag.removeprefix("W/") not in wanted:
                raise ScimError(
                    412,
                    f"{rt.name} '{scim_id}' changed: its version is {stored.etag}, "
                    f"If-Match asked for {if_match}",
                    "invalidVers",
                )
        return stored

    def _check_unique(
        self, conn: Connection, rt: ResourceType, data: dict[str, Any], scim_id: str | None
    ) -> None:
        query = select(R.scim_id).where(
            R.kind == rt.name, R.name_key == _name_key(rt, data), R.deleted_at.is_(None)
        )
        if scim_id is not None:
            query = query.where(R.scim_id != scim_id)
        clash = conn.execute(query.limit(1)).scalar()
        if clash is not None:
            field = "userName" if rt.is_user else "displayName"
            raise uniqueness(
                f"a {rt.name} with {field} '{data[field]}' already exists (id {clash}); "
                f"{field} is unique, compared case-insensitively"
            )

    def _reindex(
        self, conn: Connection, rt: ResourceType, scim_id: str, data: dict[str, Any], *, fresh: bool
    ) -> None:
        if not fresh:
            conn.execute(delete(attr_values).where(attr_values.c.scim_id == scim_id))
        rows = [
            {"scim_id": scim_id, "path": p, "elem": e, "text_value": t, "num_value": n}
            for p, e, t, n in index_rows(rt, data)
        ]
        if rows:
            conn.execute(insert(attr_values), rows)

    def _apply_member_steps(
        self, conn: Connection, group_id: str, steps: Sequence[MemberStep]
    ) -> dict[str, int]:
        """Membership deltas as SQL; the group's members are never loaded."""
        counts: dict[str, int] = {}
        for step in steps:
            ids = list(dict.fromkeys(m["value"] for m in step.members))
            if len(ids) > self._max_members:
                raise invalid_value(
                    f"{len(ids)} members in one operation; send at most {self._max_members}"
                )
            if step.kind in ("replace", "clear"):
                gone = conn.execute(delete(members).where(M.group_id == group_id)).rowcount
                counts["removed"] = counts.get("removed", 0) + gone
            if step.kind == "remove" and ids:
                gone = conn.execute(
                    delete(members).where(M.group_id == group_id, M.member_id.in_(ids))
                ).rowcount
                counts["removed"] = counts.get("removed", 0) + gone
            if step.kind in ("add", "replace") and ids:
                kinds = self._member_kinds(conn, ids, group_id)
                present = set(
                    conn.execute(
                        select(M.member_id).where(M.group_id == group_id, M.member_id.in_(ids))
                    ).scalars()
                )
                rows = [
                    {"group_id": group_id, "member_id": i, "member_type": kinds[i]}
                    for i in ids
                    if i not in present
                ]
                if rows:
                    conn.execute(insert(members), rows)
                    counts["added"] = counts.get("added", 0) + len(rows)
        return {k: v for k, v in counts.items() if v}

    def _member_kinds(self, conn: Connection, ids: Iterable[str], group_id: str) -> dict[str, str]:
        wanted = list(ids)
        if group_id in wanted:
            raise invalid_value("a group cannot be a member of itself")
        found = dict(
            conn.execute(
                select(R.scim_id, R.kind).where(R.scim_id.in_(wanted), R.deleted_at.is_(None))
            ).all()
        )
        missing = [i for i in wanted if i not in found]
        if missing:
            shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
            raise invalid_value(
                f"members must be existing Users or Groups; unknown id(s): {shown}. "
                "Provision the user first, then add it to the group."
            )
        return found

    def _audit(
        self,
        conn: Connection,
        actor: Actor,
        rt: ResourceType,
        scim_id: str,
        operation: str,
        generation: int,
        now: datetime,
        detail: dict[str, Any] | None,
    ) -> None:
        conn.execute(
            insert(audit).values(
                at=now,
                request_id=actor.request_id,
                actor=actor.name,
                scim_id=scim_id,
                kind=rt.name,
                operation=operation,
                generation=generation,
                detail=detail,
            )
        )
