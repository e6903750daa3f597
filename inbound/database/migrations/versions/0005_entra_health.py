"""Entra's side: the provisioning job's health, a bounded copy of its provisioning log, and the
state of the alerts the alert webhook announces

Revision ID: 0005_entra_health
Revises: 0004_name_keys
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_entra_health"
down_revision: str | None = "0004_name_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def upgrade() -> None:
    op.create_table(
        "entra_health",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("job_id", sa.String(length=128), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=True),
        sa.Column("quarantine_reason", sa.String(length=64), nullable=True),
        _time("quarantine_since"),
        _time("quarantine_current_began"),
        _time("quarantine_next_attempt"),
        _time("last_execution_at"),
        sa.Column("last_execution_state", sa.String(length=32), nullable=True),
        _time("last_successful_at"),
        _time("last_successful_with_exports_at"),
        sa.Column("successive_failures", sa.Integer(), server_default="0", nullable=False),
        _time("steady_state_first_at"),
        _time("steady_state_last_at"),
        _time("job_read_at"),
        sa.Column("job_problem", sa.Text(), nullable=True),
        _time("logs_read_at"),
        sa.Column("logs_problem", sa.Text(), nullable=True),
        _time("logs_watermark"),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        _time("next_poll_at"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "entra_provisioning_log",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cycle_id", sa.String(length=128), nullable=True),
        sa.Column("change_id", sa.String(length=128), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("error_code", sa.String(length=128), nullable=True),
        sa.Column("error_reason", sa.Text(), nullable=True),
        sa.Column("source_id", sa.String(length=128), nullable=True),
        sa.Column("source_name", sa.String(length=256), nullable=True),
        sa.Column("target_id", sa.String(length=128), nullable=True),
        sa.Column("target_name", sa.String(length=256), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_entra_provisioning_log_at", "entra_provisioning_log", ["at"])
    op.create_index("ix_entra_provisioning_log_target", "entra_provisioning_log", ["target_id"])
    op.create_index("ix_entra_provisioning_log_source", "entra_provisioning_log", ["source_id"])
    op.create_table(
        "alert_states",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("alert", sa.String(length=64), nullable=False),
        sa.Column(
            "labels",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("notified", sa.String(length=16), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("alert_states")
    op.drop_table("entra_provisioning_log")
    op.drop_table("entra_health")
