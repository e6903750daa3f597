"""A record's application roles and extra attributes: written as differences, read in batches.

The fixed columns of an identity are written by the target's apply; what a mapping adds beyond
them lives here: the roles in ``idm_identity_roles`` and the ``extra`` JSON column. Each write
reads what the store holds for a whole batch of users in one query and writes only what
differs, so applying the same desired state again writes nothing, and a page of a full
reconcile costs a few statements, not a few per user. Every function takes the caller's
connection: the roles commit with the record they belong to, or not at all.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, insert, or_, select, update

from connectors.identity_store.tables import ROLE_VALUE_LENGTH, identities, identity_roles
from reconcile.app_roles import AppRole
from reconcile.errors import PermanentTargetError

IR = identity_roles.c
I = identities.c  # noqa: E741
CHUNK = 500
"""User IDs per ``IN (…)`` list: far inside every driver's limit on bound parameters."""

_UPDATE_ROLE = (
    update(identity_roles)
    .where(IR.user_id == bindparam("w_user_id"), IR.value == bindparam("w_value"))
    .values(display=bindparam("display"), is_primary=bindparam("is_primary"))
)
_UPDATE_EXTRA = update(identities).where(I.user_id == bindparam("w_user_id"))


def _chunks(user_ids: Collection[str]) -> Iterator[list[str]]:
    ordered = sorted(set(user_ids))
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start : start + CHUNK]


def read_roles_for(conn: Connection, user_ids: Collection[str]) -> dict[str, list[AppRole]]:
    """The roles of each of ``user_ids`` that has any, by role value (primary first)."""
    found: dict[str, list[AppRole]] = {}
    for chunk in _chunks(user_ids):
        rows = conn.execute(
            select(IR.user_id, IR.value, IR.display, IR.is_primary)
            .where(IR.user_id.in_(chunk))
            .order_by(IR.user_id, IR.is_primary.desc(), IR.value)
        )
        for user_id, value, display, primary in rows:
            found.setdefault(user_id, []).append(AppRole(value, display, bool(primary)))
    return found


def checked_roles(user_id: str, roles: Sequence[AppRole]) -> dict[str, AppRole]:
    """One role per value (the first given wins), each short enough for its column: a longer
    one dead-letters the user with the reason, on SQLite as on PostgreSQL."""
    by_value: dict[str, AppRole] = {}
    for role in roles:
        for what, text in (("value", role.value), ("display name", role.display or "")):
            if len(text) > ROLE_VALUE_LENGTH:
                raise PermanentTargetError(
                    f"user '{user_id}': a role's {what} is {len(text)} characters long; the "
                    f"Identity Manager store keeps at most {ROLE_VALUE_LENGTH}"
                )
        by_value.setdefault(role.value, role)
    return by_value


def write_roles_many(conn: Connection, wanted: Mapping[str, Sequence[AppRole]]) -> set[str]:
    """Make each user's roles exactly ``wanted[user_id]``; returns the user IDs whose roles
    changed. Each user must have its record already (the roles reference it)."""
    desired = {user_id: checked_roles(user_id, roles) for user_id, roles in wanted.items()}
    current = read_roles_for(conn, desired)
    gone: list[tuple[str, str]] = []
    added: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for user_id, roles in desired.items():
        held = {role.value: role for role in current.get(user_id, [])}
        gone.extend((user_id, value) for value in held if value not in roles)
        for value, role in roles.items():
            row = {"display": role.display, "is_primary": role.primary}
            if value not in held:
                added.append({"user_id": user_id, "value": value, **row})
            elif held[value] != role:
                changed.append({"w_user_id": user_id, "w_value": value, **row})
    for start in range(0, len(gone), CHUNK):
        pairs = gone[start : start + CHUNK]
        conn.execute(
            delete(identity_roles).where(
                or_(*(and_(IR.user_id == u, IR.value == v) for u, v in pairs))
            )
        )
    if added:
        conn.execute(insert(identity_roles), added)
    if changed:
        conn.execute(_UPDATE_ROLE, changed)
    return {u for u, _ in gone} | {r["user_id"] for r in added} | {r["w_user_id"] for r in changed}


def write_roles(conn: Connection, user_id: str, roles: Sequence[AppRole]) -> bool:
    """Make one user's roles exactly ``roles``; whether anything changed."""
    return bool(write_roles_many(conn, {user_id: roles}))


def read_extra_for(conn: Connection, user_ids: Collection[str]) -> dict[str, dict[str, Any]]:
    """The extra attributes of each of ``user_ids`` that has any."""
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(user_ids):
        for user_id, extra in conn.execute(
            select(I.user_id, I.extra).where(I.user_id.in_(chunk), I.extra.is_not(None))
        ):
            if extra:
                found[user_id] = dict(extra)
    return found


def write_extra_many(conn: Connection, wanted: Mapping[str, Mapping[str, Any] | None]) -> set[str]:
    """Set each user's extra attributes to ``wanted[user_id]`` (empty or None: none); returns
    the user IDs whose extra attributes differed. A user without a record gets none."""
    current = read_extra_for(conn, wanted)
    changed = [
        user_id
        for user_id, extra in wanted.items()
        if dict(extra or {}) != current.get(user_id, {})
    ]
    if changed:
        conn.execute(
            _UPDATE_EXTRA,
            [{"w_user_id": u, "extra": dict(wanted[u] or {}) or None} for u in changed],
        )
    return set(changed)


def write_extra(conn: Connection, user_id: str, extra: Mapping[str, Any] | None) -> bool:
    """Set one user's extra attributes; whether anything changed."""
    return bool(write_extra_many(conn, {user_id: extra}))
