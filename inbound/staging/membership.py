"""Group membership as SQL deltas on ``scim_members``: a group is never loaded to change it.

Adding one member to a group of 100k reads only the listed ids (do they exist, are they
already members) and inserts what is new, so it costs what it costs for a group of 10.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from inbound.errors import invalid_value
from inbound.patch import MemberStep
from inbound.staging.rows import Rows


def apply_member_steps(
    rows: Rows, cur: Any, group_id: str, max_members: int, steps: Sequence[MemberStep]
) -> dict[str, int]:
    """Membership deltas as SQL; the group's members are never loaded."""
    counts: dict[str, int] = {}
    for step in steps:
        ids = list(dict.fromkeys(m["value"] for m in step.members))
        if len(ids) > max_members:
            raise invalid_value(f"{len(ids)} members in one operation; send at most {max_members}")
        if step.kind in ("replace", "clear"):
            cur.execute(rows.sql("DELETE FROM scim_members WHERE group_id = ?"), [group_id])
            counts["removed"] = counts.get("removed", 0) + max(cur.rowcount, 0)
        if step.kind == "remove" and ids:
            cur.execute(
                rows.sql(
                    "DELETE FROM scim_members WHERE group_id = ? "  # noqa: S608 - placeholders only
                    f"AND member_id IN ({rows.marks(len(ids))})"
                ),
                [group_id, *ids],
            )
            counts["removed"] = counts.get("removed", 0) + max(cur.rowcount, 0)
        if step.kind in ("add", "replace") and ids:
            kinds = _member_kinds(rows, cur, ids, group_id)
            present = _present(rows, cur, group_id, ids)
            new = [(group_id, i, kinds[i]) for i in ids if i not in present]
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


def _member_kinds(rows: Rows, cur: Any, ids: list[str], group_id: str) -> dict[str, str]:
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
        shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
        raise invalid_value(
            f"members must be existing Users or Groups; unknown id(s): {shown}. "
            "Provision the user first, then add it to the group."
        )
    return found
