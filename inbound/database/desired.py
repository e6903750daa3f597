"""Desired state read from staging: what the reconciler must bring each target to.

Implements :class:`reconcile.ports.DesiredStateSource`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, select

from inbound.database.tables import members, reading, resources
from inbound.input_rules import name_key
from inbound.schema import ENTERPRISE_SCHEMA
from reconcile.model import (
    Desired,
    DesiredGroup,
    DesiredIdentity,
    MemberRef,
    ResourceKind,
    Tombstone,
    read_only,
)

R = resources.c
M = members.c


def work_email(data: dict[str, Any]) -> str | None:
    """The Identity Manager's email: the work address, else the primary one (seed rule)."""
    emails = [e for e in data.get("emails") or [] if isinstance(e, dict) and e.get("value")]
    for email in emails:
        if str(email.get("type", "")).lower() == "work":
            return str(email["value"])
    for email in emails:
        if email.get("primary") is True:
            return str(email["value"])
    return None


def desired_identity(
    scim_id: str, generation: int, data: dict[str, Any], manager_user_id: str | None
) -> DesiredIdentity:
    name = data.get("name") or {}
    ext = data.get(ENTERPRISE_SCHEMA) or {}
    manager = ext.get("manager") or {}
    return DesiredIdentity(
        scim_id=scim_id,
        generation=generation,
        user_id=data["userName"],
        active=data.get("active", True) is not False,
        external_id=data.get("externalId"),
        email=work_email(data),
        given_name=name.get("givenName"),
        family_name=name.get("familyName"),
        display_name=data.get("displayName"),
        title=data.get("title"),
        department=ext.get("department"),
        employee_number=ext.get("employeeNumber"),
        manager_scim_id=manager.get("value"),
        manager_user_id=manager_user_id,
        source=read_only(data),
    )


class StagedDesiredState:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def find(self, kind: ResourceKind, name: str) -> Desired | None:
        """The live resource of ``kind`` named ``name`` (userName or group displayName, under
        the staging store's uniqueness rule), as the reconciler would load it."""
        with reading(self._engine) as conn:
            scim_id = conn.execute(
                select(R.scim_id).where(
                    R.kind == kind.value, R.name_key == name_key(name), R.deleted_at.is_(None)
                )
            ).scalar()
        return self.load([scim_id]).get(scim_id) if scim_id else None

    def load(self, scim_ids: Sequence[str]) -> dict[str, Desired]:
        out: dict[str, Desired] = {}
        if not scim_ids:
            return out
        with reading(self._engine) as conn:
            rows = conn.execute(
                select(R.scim_id, R.kind, R.generation, R.deleted_at, R.data).where(
                    R.scim_id.in_(scim_ids)
                )
            ).all()
            managers = {
                (row.data.get(ENTERPRISE_SCHEMA) or {}).get("manager", {}).get("value")
                for row in rows
                if row.kind == "User" and row.deleted_at is None
            } - {None}
            manager_ids: dict[str, str] = (
                dict(
                    conn.execute(
                        select(R.scim_id, R.data["userName"].as_string()).where(
                            R.scim_id.in_(managers), R.deleted_at.is_(None)
                        )
                    ).all()
                )
                if managers
                else {}
            )
            groups = [r.scim_id for r in rows if r.kind == "Group" and r.deleted_at is None]
            group_members: dict[str, set[MemberRef]] = {g: set() for g in groups}
            if groups:
                for group_id, member_id, user_name in conn.execute(
                    select(M.group_id, M.member_id, R.data["userName"].as_string())
                    .join(resources, R.scim_id == M.member_id)
                    .where(M.group_id.in_(groups), M.member_type == "User", R.deleted_at.is_(None))
                ):
                    group_members[group_id].add(MemberRef(member_id, user_name))
        for row in rows:
            kind = ResourceKind(row.kind)
            if row.deleted_at is not None:
                name = row.data.get("userName" if kind is ResourceKind.USER else "displayName", "")
                out[row.scim_id] = Tombstone(row.scim_id, row.generation, kind, str(name))
            elif kind is ResourceKind.USER:
                manager = (row.data.get(ENTERPRISE_SCHEMA) or {}).get("manager") or {}
                out[row.scim_id] = desired_identity(
                    row.scim_id,
                    row.generation,
                    row.data,
                    manager_ids.get(str(manager.get("value"))),
                )
            else:
                out[row.scim_id] = DesiredGroup(
                    scim_id=row.scim_id,
                    generation=row.generation,
                    display_name=row.data["displayName"],
                    external_id=row.data.get("externalId"),
                    members=frozenset(group_members[row.scim_id]),
                    source=read_only(row.data),
                )
        return out
