"""Entra's side of provisioning as last read through Graph: the provisioning job's health and
the provisioning log entries kept (read and written by ``inbound.database.entra_health``).
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from inbound.database.tables import UtcDateTime, metadata

entra_health = Table(
    "entra_health",
    metadata,
    Column("name", String(32), primary_key=True, doc="one row per Entra job watch ('job')"),
    Column("job_id", String(128)),
    Column("state", String(32), doc="Graph status.code, lower case: active, paused, quarantine…"),
    Column("quarantine_reason", String(64)),
    Column("quarantine_since", UtcDateTime, doc="quarantine.seriesBegan"),
    Column("quarantine_current_began", UtcDateTime),
    Column("quarantine_next_attempt", UtcDateTime),
    Column("last_execution_at", UtcDateTime),
    Column("last_execution_state", String(32)),
    Column("last_successful_at", UtcDateTime),
    Column("last_successful_with_exports_at", UtcDateTime),
    Column("successive_failures", Integer, nullable=False, server_default="0"),
    Column("steady_state_first_at", UtcDateTime),
    Column("steady_state_last_at", UtcDateTime),
    Column("job_read_at", UtcDateTime, doc="last successful read of the job"),
    Column("job_problem", Text, doc="why the last read failed, or 'not permitted: needs …'"),
    Column("logs_read_at", UtcDateTime, doc="last successful read of the provisioning log"),
    Column("logs_problem", Text),
    Column("logs_watermark", UtcDateTime, doc="newest activityDateTime read so far"),
    Column("attempts", Integer, nullable=False, server_default="0", doc="failed polls in a row"),
    Column("next_poll_at", UtcDateTime, doc="backoff after a failure or a Retry-After"),
    Column("updated_at", UtcDateTime, nullable=False),
)

entra_provisioning_log = Table(
    "entra_provisioning_log",
    metadata,
    Column("id", String(128), primary_key=True, doc="Graph's provisioningObjectSummary id"),
    Column("at", UtcDateTime, nullable=False, doc="activityDateTime"),
    Column("cycle_id", String(128)),
    Column("change_id", String(128)),
    Column("action", String(32), nullable=False, doc="create, update, delete, disable, other…"),
    Column("status", String(32), nullable=False, doc="success, failure, skipped, warning"),
    Column("error_code", String(128)),
    Column("error_reason", Text),
    Column("source_id", String(128), doc="the Entra object (our externalId by default)"),
    Column("source_name", String(256)),
    Column("target_id", String(128), doc="the object in this service: our scim_id"),
    Column("target_name", String(256)),
    Index("ix_entra_provisioning_log_at", "at"),
    Index("ix_entra_provisioning_log_target", "target_id"),
    Index("ix_entra_provisioning_log_source", "source_id"),
)
