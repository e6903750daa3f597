"""Writing a resource's indexed columns and its attribute index rows.

The columns (``COLUMN_NAMES``) serve Entra's lookups; the rows of ``scim_attr_values`` serve
every other filter (:mod:`inbound.database.index`). A rewrite touches only what changed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from inbound.database.index import index_rows
from inbound.database.rows import Rows
from inbound.input_rules import name_key as fold_name
from inbound.schema import ResourceType


def name_field(rt: ResourceType) -> str:
    return "userName" if rt.is_user else "displayName"


COLUMN_NAMES = ("name_key", "external_id", "display_name", "active")


def name_key(rt: ResourceType, data: dict[str, Any]) -> str:
    """The uniqueness key of the resource's name (see :func:`inbound.input_rules.name_key`)."""
    return fold_name(str(data[name_field(rt)]))


def columns(rows: Rows, rt: ResourceType, data: dict[str, Any]) -> list[Any]:
    """The indexed columns, in the order of ``COLUMN_NAMES``."""
    return [column_value(rows, rt, data, column) for column in COLUMN_NAMES]


def column_sources(rt: ResourceType) -> tuple[tuple[str, str], ...]:
    """Each column with the attribute it is made of, in the order of ``COLUMN_NAMES``."""
    return (
        ("name_key", name_field(rt)),
        ("external_id", "externalId"),
        ("display_name", "displayName"),
        ("active", "active"),
    )


def column_value(rows: Rows, rt: ResourceType, data: dict[str, Any], column: str) -> Any:
    """One indexed column of a resource."""
    if column == "name_key":
        return name_key(rt, data)
    if column == "active":
        return rows.bool_in(data.get("active", True) is not False)
    return data.get("externalId" if column == "external_id" else "displayName")


def rewrite(
    rows: Rows,
    cur: Any,
    rt: ResourceType,
    scim_id: str,
    generation: int,
    now: datetime,
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    """Write only what changed: the columns whose value differs and the index rows that
    differ, so a one-attribute PATCH touches one index entry, not the resource's fifteen."""
    touched = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    # a column is set only when its attribute changed: folding a name is the dear part
    moved = [column for column, field in column_sources(rt) if field in touched]
    sets = [f"{column} = ?" for column in moved]
    values = [column_value(rows, rt, after, column) for column in moved]
    cur.execute(
        rows.sql(
            f"UPDATE scim_resources SET {', '.join([*sets, 'data = ?'])}, "  # noqa: S608
            "generation = ?, updated_at = ? WHERE scim_id = ?"
        ),
        [*values, rows.json_in(after), generation, rows.time_in(now), scim_id],
    )
    old_rows = {(p, e): (t, n) for p, e, t, n in index_rows(rt, before, touched)}
    new_rows = {(p, e): (t, n) for p, e, t, n in index_rows(rt, after, touched)}
    gone = sorted(old_rows.keys() - new_rows.keys())
    if gone:
        cur.executemany(
            rows.sql("DELETE FROM scim_attr_values WHERE scim_id = ? AND path = ? AND elem = ?"),
            [(scim_id, path, elem) for path, elem in gone],
        )
    # a value that changed in place is updated: its owner-index entry stays as it is
    changed = sorted(k for k, v in new_rows.items() if k in old_rows and old_rows[k] != v)
    if changed:
        cur.executemany(
            rows.sql(
                "UPDATE scim_attr_values SET text_value = ?, num_value = ? "
                "WHERE scim_id = ? AND path = ? AND elem = ?"
            ),
            [(*new_rows[k], scim_id, *k) for k in changed],
        )
    added = sorted(new_rows.keys() - old_rows.keys())
    insert_index(rows, cur, [(scim_id, *k, *new_rows[k]) for k in added])


def index(rows: Rows, cur: Any, rt: ResourceType, scim_id: str, data: dict[str, Any]) -> None:
    """Every index row of a new resource."""
    insert_index(rows, cur, [(scim_id, p, e, t, n) for p, e, t, n in index_rows(rt, data)])


def insert_index(rows: Rows, cur: Any, values: list[tuple[Any, ...]]) -> None:
    """On PostgreSQL one statement of arrays rather than a statement per row: a user has
    about fifteen index rows, and each statement costs the client and the server more
    than the row itself. SQLite's ``executemany`` is already one prepared loop in C."""
    if not values:
        return
    if rows.sqlite:
        # Nearly every row is text only. sqlite3 binds a None parameter through its adapter
        # lookup, which raises and clears an AttributeError each time (a third of the cost of
        # a row), so rows without a number leave that column out instead.
        text_only = [value[:4] for value in values if value[4] is None]
        if text_only:
            cur.executemany(
                "INSERT INTO scim_attr_values (scim_id, path, elem, text_value) "
                "VALUES (?, ?, ?, ?)",
                text_only,
            )
        if len(text_only) < len(values):
            cur.executemany(
                "INSERT INTO scim_attr_values (scim_id, path, elem, text_value, num_value) "
                "VALUES (?, ?, ?, ?, ?)",
                [value for value in values if value[4] is not None],
            )
        return
    arrays = [list(column) for column in zip(*values, strict=True)]
    cur.execute(
        "INSERT INTO scim_attr_values (scim_id, path, elem, text_value, num_value) "
        "SELECT * FROM unnest(%s::text[], %s::text[], %s::int[], %s::text[], %s::float8[])",
        arrays,
    )
