"""Group membership as SQL deltas on ``scim_members``: a group is never loaded to change it.

Adding one member to a group of 100k reads only the listed ids (do they exist, are they
already members) and inserts what is new, so it costs what it costs for a group of 10.
Ids that name no live resource are skipped with a warning (see ``_member_kinds``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from inbound.database.rows import Rows
from inbound.errors import invalid_value
from inbound.patch import MemberStep

log = logging.getLogger(__name__)


def apply_member_steps(
    rows: Rows, cur: Any, group_id: str, max_members: int, steps: Sequence[MemberStep]
) -> dict[str, int]:
    """Membership deltas as SQL; the group's members are never loaded."""
    counts: dict[str, int] = {}
    for step in steps:
        # in key order: two writes touching the same membership rows lock them the same way
        ids = sorted({m["value"] for m in step.members})
        if len(ids) > max_members:
            raise invalid_value(f"{len(ids)} members in one operation; send at most {max_members}")
        if step.kind in ("replace", "clear"):
            cur.execute(
                rows.sql("DELETE FROM scim_members WHERE group_id = ? RETURNING member_id"),
                [group_id],
            )
            counts["removed"] = counts.get("removed", 0) + len(cur.fetchall())
        if step.kind == "remove" and ids:
            cur.execute(
                rows.sql(
                    "DELETE FROM scim_members WHERE group_id = ? "  # noqa: S608 - placeholders only
                    f"AND member_id IN ({rows.marks(len(ids))}) RETURNING member_id"
                ),
                [group_id, *ids],
            )
            counts["removed"] = counts.get("removed", 0) + len(cur.fetchall())
        if step.kind in ("add", "replace") and ids:
            kinds = _member_kinds(rows, cur, group_id, ids)
            present = _present(rows, cur, group_id, list(kinds)) if kinds else set()
            new = [(group_id, i, kinds[i]) for i in ids if i in kinds and i not in present]
            if new:
                cur.executemany(
                    rows.sql(
                        "INSERT INTO scim_members (group_id, member_id, member_type) "
                        "VALUES (?, ?, ?)"
                    ),
                    new,
                )
                counts["added"] = counts.get("added", 0) + len(new)
    return {k: v for k, v in counts.items() if v}


def _present(rows: Rows, cur: Any, group_id: str, ids: list[str]) -> set[str]:
    cur.execute(
        rows.sql(
            "SELECT member_id FROM scim_members WHERE group_id = ? "  # noqa: S608 - placeholders only
            f"AND member_id IN ({rows.marks(len(ids))})"
        ),
        [group_id, *ids],
    )
    return {row[0] for row in cur.fetchall()}


def _member_kinds(rows: Rows, cur: Any, group_id: str, ids: list[str]) -> dict[str, str]:
    """The kind of each listed id that is a live resource. An id that is not one is skipped
    and logged: ids are ours (Entra only sends ids we returned), so an unknown one can never
    become a member, and refusing the whole request would also refuse the valid members sent
    with it. RFC 7644 does not ask a service provider to enforce the reference."""
    if group_id in ids:
        raise invalid_value("a group cannot be a member of itself")
    found = dict(
        rows.select_in(
            cur,
            "SELECT scim_id, kind FROM scim_resources WHERE deleted_at IS NULL AND scim_id IN",
            ids,
        )
    )
    missing = [i for i in ids if i not in found]
    if missing:
        log.warning(
            "unknown member ids skipped",
            extra={"group_id": group_id, "count": len(missing), "ids": missing[:20]},
        )
    return found
