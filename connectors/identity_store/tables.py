"""The Identity Manager's tables. ``user_id`` is the key the Identity Manager uses (SCIM
userName, normally the employee ID); ``scim_id`` is our anchor so renames keep the record.

Besides its fixed columns a record holds what a mapping produces for it: ``extra`` (a JSON
object of further attributes, NULL when none) and its application roles in
``idm_identity_roles``, which follow the record's user ID when it is renamed and go with it when
it is deleted (foreign key, cascading; SQLite enforces it because every connection turns
``foreign_keys`` on, see ``scheduler/db.py``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    MetaData,
    String,
    Table,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
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


Json = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
"""None is SQL NULL, not the JSON ``null``, so ``extra IS NULL`` means 'no extra attributes'."""
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
    Column("extra", Json, doc="attributes a mapping adds beyond the columns; NULL when none"),
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
    Column("extra", Json, doc="attributes a group mapping adds; NULL when none"),
    Index("ix_idm_groups_display_name", "display_name"),
)

group_members = Table(
    "idm_group_members",
    metadata,
    Column("group_scim_id", String(36), primary_key=True),
    Column("user_id", String(256), primary_key=True),
    Index("ix_idm_group_members_user", "user_id"),
)

ROLE_VALUE_LENGTH = 512
"""Characters of a role's value and of its display name."""

identity_roles = Table(
    "idm_identity_roles",
    metadata,
    Column(
        "user_id",
        String(256),
        ForeignKey(
            "idm_identities.user_id",
            name="fk_idm_identity_roles_user_id",
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        primary_key=True,
    ),
    Column("value", String(ROLE_VALUE_LENGTH), primary_key=True, doc="the app role's value"),
    Column("display", String(ROLE_VALUE_LENGTH), doc="the app role's display name"),
    Column("is_primary", Boolean, nullable=False, server_default=false()),
    Index("ix_idm_identity_roles_value", "value"),
)
