"""The service's own state: tokens and admin keys, live settings, job leases, token renewal,
mass-change holds and alert states.

None of it is staged SCIM data; it lives in the same database so that every web and worker
process sees one truth. The code that reads and writes each table sits beside it in
``inbound/database/`` (``tokens.py``, ``live_settings.py``, ``sessions.py``, ``locks.py``,
``renewal_state.py``, ``sync_status.py``, ``alert_states.py``).
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from inbound.database.tables import Json, UtcDateTime, metadata

holds = Table(
    "mass_change_holds",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("target", String(64), nullable=False),
    Column("deletes", Integer, nullable=False),
    Column("disables", Integer, nullable=False),
    Column("managed", Integer, nullable=False, doc="resources the target holds, for the share"),
    Column("detected_at", UtcDateTime, nullable=False),
    Column("approved_at", UtcDateTime),
    Column("approved_by", String(64)),
    Column("closed_at", UtcDateTime),
    Index("ix_mass_change_holds_open", "target", "closed_at"),
)

job_leases = Table(
    "job_leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(8), nullable=False, doc="scim or admin"),
    Column("secret_hash", String(64), nullable=False, unique=True, doc="SHA-256 of the secret"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),
    Column("label", String(128)),
    Column(
        "delivery",
        String(16),
        doc="null: handed to whoever issued it; pending/delivered/failed: minted for the sink",
    ),
)

token_renewal = Table(
    "token_renewal",
    metadata,
    Column("name", String(32), primary_key=True, doc="one row per renewal job ('scim')"),
    Column("sink", String(256), doc="where the last attempt delivered to, without secrets"),
    Column("attempts", Integer, nullable=False, server_default="0", doc="failures in a row"),
    Column("last_attempt_at", UtcDateTime),
    Column("next_attempt_at", UtcDateTime),
    Column("last_error", Text),
    Column("delivered_at", UtcDateTime),
    Column("delivered_token_id", String(32)),
    Column("updated_at", UtcDateTime, nullable=False),
)

live_settings = Table(
    "runtime_settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

alert_states = Table(
    "alert_states",
    metadata,
    Column("key", String(200), primary_key=True, doc="alert name and its labels"),
    Column("alert", String(64), nullable=False),
    Column("labels", Json, nullable=False),
    Column("state", String(16), nullable=False, doc="inactive, pending, firing"),
    Column("since", UtcDateTime, nullable=False, doc="when the state began"),
    Column("value", Float, doc="what the condition saw; a baseline for 'rising' alerts"),
    Column("notified", String(16), doc="the last state the webhook accepted: firing/resolved"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    Column("updated_at", UtcDateTime, nullable=False),
)
