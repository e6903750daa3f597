"""The staged SCIM resources, their attribute index and members, the audit log and the sync
ledger's rows, and what every table module shares (column types, the ``MetaData``, how a
connection is taken for reading or writing).

The service's own state is in :mod:`~inbound.database.service_tables`, Entra's side in
:mod:`~inbound.database.entra_tables`. The migrations in ``migrations/`` mirror all three
(``migrations/env.py`` loads them together).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    DateTime,
    Dialect,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Always timezone-aware UTC in Python, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


READ_ONLY = {"scim_sync_read_only": True}
"""Execution option marking a read: on SQLite it begins a deferred transaction, so a long read
never holds the write lock (writes begin IMMEDIATE to avoid lock-upgrade deadlocks)."""


def reading(engine: Engine) -> Connection:
    """A connection for reads only."""
    return engine.connect().execution_options(**READ_ONLY)


@contextmanager
def writing(engine: Engine, joined: Connection | None = None) -> Iterator[Connection]:
    """A write transaction of its own, or the caller's open one (``joined``), which the caller
    commits: a change and the audit event recording it must commit together or not at all."""
    if joined is not None:
        yield joined
        return
    with engine.begin() as conn:
        yield conn


Json = JSON().with_variant(JSONB(), "postgresql")
metadata = MetaData()

resources = Table(
    "scim_resources",
    metadata,
    Column("scim_id", String(36), primary_key=True),
    Column("kind", String(8), nullable=False),
    Column(
        "name_key",
        String(512),
        nullable=False,
        doc="userName or group displayName folded by inbound.input_rules.name_key",
    ),
    Column("external_id", String(512)),
    Column("display_name", String(512)),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("data", Json, nullable=False),
    Column("generation", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("deleted_at", UtcDateTime),
    Index(
        "uq_scim_resources_live_name",
        "kind",
        "name_key",
        unique=True,
        sqlite_where=text("deleted_at IS NULL"),
        postgresql_where=text("deleted_at IS NULL"),
    ),
    Index("ix_scim_resources_external_id", "kind", "external_id"),
    Index("ix_scim_resources_deleted_at", "deleted_at"),
)

attr_values = Table(
    "scim_attr_values",
    metadata,
    Column("scim_id", String(36), nullable=False),
    Column("path", String(300), nullable=False, doc="casefolded attribute path, e.g. emails.value"),
    Column("elem", Integer, nullable=False, doc="position within a multi-valued attribute"),
    Column("text_value", String(1024), doc="comparable text: casefolded unless caseExact"),
    Column("num_value", Float),
    Index("ix_scim_attr_values_lookup", "path", "text_value"),
    Index("ix_scim_attr_values_owner", "scim_id", "path"),
)

members = Table(
    "scim_members",
    metadata,
    Column("group_id", String(36), primary_key=True),
    Column("member_id", String(36), primary_key=True),
    Column("member_type", String(8), nullable=False, server_default="User"),
    Index("ix_scim_members_member", "member_id"),
)

audit = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("request_id", String(64)),
    Column("actor", String(64), nullable=False, doc="scim token id, admin, or a target name"),
    Column("scim_id", String(36)),
    Column("kind", String(8)),
    Column("operation", String(32), nullable=False),
    Column("generation", Integer),
    Column("outcome", String(32), nullable=False, server_default="ok"),
    Column("detail", Json),
    Index("ix_audit_events_scim_id", "scim_id", "id"),
    Index("ix_audit_events_at", "at"),
)

sync_state = Table(
    "sync_state",
    metadata,
    Column("target", String(64), primary_key=True),
    Column("scim_id", String(36), primary_key=True),
    Column("phase", Integer, nullable=False, doc="0 group delete, 1 user delete, 2 user, 3 group"),
    Column("desired_generation", Integer, nullable=False, doc="the staged generation to reach"),
    Column("desired_active", Boolean, nullable=False, server_default=text("true")),
    Column("observed_active", Boolean, doc="active as last applied; None before the first apply"),
    Column("observed_generation", Integer, nullable=False, server_default="0"),
    Column("attempted_generation", Integer, nullable=False, server_default="0"),
    Column("anchor", String(256)),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime),
    Column("last_error", Text),
    Column("claimed_by", String(64), doc="the worker applying it now"),
    Column("claimed_until", UtcDateTime, doc="after this, another worker may take it over"),
    Column("changed_at", UtcDateTime, nullable=False, doc="when the staged resource last changed"),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_sync_state_status", "target", "status"),
    Index("ix_sync_state_scim_id", "scim_id"),
    Index("ix_sync_state_anchor", "target", "anchor"),
    Index(
        "ix_sync_state_due",
        "target",
        "phase",
        "changed_at",
        sqlite_where=text("observed_generation < desired_generation"),
        postgresql_where=text("observed_generation < desired_generation"),
    ),
)
