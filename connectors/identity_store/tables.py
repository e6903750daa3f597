"""The Identity Manager's tables. ``user_id`` is the key the Identity Manager uses (SCIM
userName, normally the employee ID); ``scim_id`` is our anchor so renames keep the record."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, Column, DateTime, Dialect, Index, MetaData, String, Table
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python on every database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


metadata = MetaData()

identities = Table(
    "idm_identities",
    metadata,
    Column("user_id", String(256), primary_key=True),
    Column("scim_id", String(36), unique=True),
    Column("external_id", String(256)),
    Column("email", String(320)),
    Column("given_name", String(256)),
    Column("family_name", String(256)),
    Column("display_name", String(512)),
    Column("title", String(256)),
    Column("department", String(256)),
    Column("employee_number", String(64)),
    Column("manager_user_id", String(256)),
    Column("active", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_idm_identities_manager", "manager_user_id"),
    Index("ix_idm_identities_email", "email"),
)

groups = Table(
    "idm_groups",
    metadata,
    Column("scim_id", String(36), primary_key=True),
    Column("display_name", String(512), nullable=False),
    Column("external_id", String(256)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_idm_groups_display_name", "display_name"),
)

group_members = Table(
    "idm_group_members",
    metadata,
    Column("group_scim_id", String(36), primary_key=True),
    Column("user_id", String(256), primary_key=True),
    Index("ix_idm_group_members_user", "user_id"),
)
