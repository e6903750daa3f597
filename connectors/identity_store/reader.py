"""The Identity Manager store as operators read it: ``scim-sync identities get|list`` and the
admin API's identity view.

A record is shown with every column, the display names of its groups, its application roles
and its extra attributes (``roles: []`` and ``extra: {}`` when it has none, so a reader never
has to ask whether the key exists). A page of records costs four queries however long it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Engine, select

from connectors.identity_store.roles import read_extra_for, read_roles_for
from connectors.identity_store.tables import group_members, groups, identities
from reconcile.app_roles import AppRole

I = identities.c  # noqa: E741
G = groups.c
GM = group_members.c
_SHOWN = tuple(c.name for c in identities.c if c.name not in ("extra", "created_at", "updated_at"))
"""The record's own columns, key first, as the table declares them."""


class IdentityReader:
    """Read side for operators; writes go through the target alone."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, user_id: str) -> dict[str, Any] | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(identities).where(I.user_id == user_id)).mappings().first()
            if row is None:
                return None
            return _Page(conn, [row]).records()[0]

    def list(self, limit: int = 1000, after: str | None = None) -> list[dict[str, Any]]:
        """Up to ``limit`` identities in user ID order, from the one after ``after``: keyset
        paging, so a page costs the same wherever it starts and a reader walking the whole
        store holds one page at a time."""
        query = select(identities).order_by(I.user_id).limit(limit)
        if after is not None:
            query = query.where(I.user_id > after)
        with self._engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
            return _Page(conn, rows).records() if rows else []


class _Page:
    """Records of one page, with what other tables hold for them read a page at a time."""

    def __init__(self, conn: Connection, rows: list[Mapping[str, Any]] | Any) -> None:
        self._rows = list(rows)
        user_ids = [r["user_id"] for r in self._rows]
        self._groups: dict[str, list[str]] = {}
        for user_id, name in conn.execute(
            select(GM.user_id, G.display_name)
            .join(groups, G.scim_id == GM.group_scim_id)
            .where(GM.user_id.in_(user_ids))
            .order_by(G.display_name)
        ):
            self._groups.setdefault(user_id, []).append(name)
        self._roles = read_roles_for(conn, user_ids)
        self._extra = read_extra_for(conn, user_ids)

    def records(self) -> list[dict[str, Any]]:
        return [self._record(row) for row in self._rows]

    def _record(self, row: Mapping[str, Any]) -> dict[str, Any]:
        user_id = row["user_id"]
        out = {k: row[k] for k in _SHOWN}
        out["groups"] = self._groups.get(user_id, [])
        out["roles"] = [_role(r) for r in self._roles.get(user_id, [])]
        out["extra"] = self._extra.get(user_id, {})
        out["created_at"] = row["created_at"].isoformat()
        out["updated_at"] = row["updated_at"].isoformat()
        return out


def _role(role: AppRole) -> dict[str, Any]:
    return {"value": role.value, "display": role.display, "primary": role.primary}
