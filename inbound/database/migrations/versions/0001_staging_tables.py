"""staging tables

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("scim_id", sa.String(length=36), nullable=True),
        sa.Column("kind", sa.String(length=8), nullable=True),
        sa.Column("operation", sa.String(length=32), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=32), server_default="ok", nullable=False),
        sa.Column(
            "detail",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_events_at", ["at"], unique=False)
        batch_op.create_index("ix_audit_events_scim_id", ["scim_id", "id"], unique=False)

    op.create_table(
        "runtime_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "scim_attr_values",
        sa.Column("scim_id", sa.String(length=36), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("elem", sa.Integer(), nullable=False),
        sa.Column("text_value", sa.String(length=1024), nullable=True),
        sa.Column("num_value", sa.Float(), nullable=True),
    )
    with op.batch_alter_table("scim_attr_values", schema=None) as batch_op:
        batch_op.create_index("ix_scim_attr_values_lookup", ["path", "text_value"], unique=False)
        batch_op.create_index("ix_scim_attr_values_owner", ["scim_id", "path"], unique=False)

    op.create_table(
        "scim_members",
        sa.Column("group_id", sa.String(length=36), nullable=False),
        sa.Column("member_id", sa.String(length=36), nullable=False),
        sa.Column("member_type", sa.String(length=8), server_default="User", nullable=False),
        sa.PrimaryKeyConstraint("group_id", "member_id"),
    )
    with op.batch_alter_table("scim_members", schema=None) as batch_op:
        batch_op.create_index("ix_scim_members_member", ["member_id"], unique=False)

    op.create_table(
        "scim_resources",
        sa.Column("scim_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("name_key", sa.String(length=512), nullable=False),
        sa.Column("external_id", sa.String(length=512), nullable=True),
        sa.Column("display_name", sa.String(length=512), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("(true)"), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("scim_id"),
    )
    with op.batch_alter_table("scim_resources", schema=None) as batch_op:
        batch_op.create_index("ix_scim_resources_deleted_at", ["deleted_at"], unique=False)
        batch_op.create_index(
            "ix_scim_resources_external_id", ["kind", "external_id"], unique=False
        )
        batch_op.create_index(
            "uq_scim_resources_live_name",
            ["kind", "name_key"],
            unique=True,
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )

    op.create_table(
        "sync_state",
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("scim_id", sa.String(length=36), nullable=False),
        sa.Column("phase", sa.Integer(), nullable=False),
        sa.Column("desired_generation", sa.Integer(), nullable=False),
        sa.Column("desired_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("observed_active", sa.Boolean(), nullable=True),
        sa.Column("observed_generation", sa.Integer(), server_default="0", nullable=False),
        sa.Column("attempted_generation", sa.Integer(), server_default="0", nullable=False),
        sa.Column("anchor", sa.String(length=256), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("target", "scim_id"),
    )
    with op.batch_alter_table("sync_state", schema=None) as batch_op:
        batch_op.create_index("ix_sync_state_status", ["target", "status"], unique=False)
        batch_op.create_index("ix_sync_state_scim_id", ["scim_id"], unique=False)
        batch_op.create_index("ix_sync_state_anchor", ["target", "anchor"], unique=False)
        batch_op.create_index(
            "ix_sync_state_due",
            ["target", "phase", "changed_at"],
            unique=False,
            sqlite_where=sa.text("observed_generation < desired_generation"),
            postgresql_where=sa.text("observed_generation < desired_generation"),
        )

    op.create_table(
        "mass_change_holds",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("deletes", sa.Integer(), nullable=False),
        sa.Column("disables", sa.Integer(), nullable=False),
        sa.Column("managed", sa.Integer(), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("mass_change_holds", schema=None) as batch_op:
        batch_op.create_index("ix_mass_change_holds_open", ["target", "closed_at"], unique=False)

    op.create_table(
        "job_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )

    op.create_table(
        "tokens",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("label", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("secret_hash"),
    )


def downgrade() -> None:
    op.drop_table("tokens")
    op.drop_table("job_leases")
    with op.batch_alter_table("mass_change_holds", schema=None) as batch_op:
        batch_op.drop_index("ix_mass_change_holds_open")

    op.drop_table("mass_change_holds")
    with op.batch_alter_table("sync_state", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_state_due")
        batch_op.drop_index("ix_sync_state_anchor")
        batch_op.drop_index("ix_sync_state_scim_id")
        batch_op.drop_index("ix_sync_state_status")

    op.drop_table("sync_state")
    with op.batch_alter_table("scim_resources", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_scim_resources_live_name",
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )
        batch_op.drop_index("ix_scim_resources_external_id")
        batch_op.drop_index("ix_scim_resources_deleted_at")

    op.drop_table("scim_resources")
    with op.batch_alter_table("scim_members", schema=None) as batch_op:
        batch_op.drop_index("ix_scim_members_member")

    op.drop_table("scim_members")
    with op.batch_alter_table("scim_attr_values", schema=None) as batch_op:
        batch_op.drop_index("ix_scim_attr_values_owner")
        batch_op.drop_index("ix_scim_attr_values_lookup")

    op.drop_table("scim_attr_values")
    op.drop_table("runtime_settings")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_scim_id")
        batch_op.drop_index("ix_audit_events_at")

    op.drop_table("audit_events")
