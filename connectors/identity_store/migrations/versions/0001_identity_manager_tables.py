"""identity manager tables

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idm_group_members",
        sa.Column("group_scim_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("group_scim_id", "user_id"),
    )
    with op.batch_alter_table("idm_group_members", schema=None) as batch_op:
        batch_op.create_index("ix_idm_group_members_user", ["user_id"], unique=False)

    op.create_table(
        "idm_groups",
        sa.Column("scim_id", sa.String(length=36), nullable=False),
        sa.Column("display_name", sa.String(length=512), nullable=False),
        sa.Column("external_id", sa.String(length=256), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scim_id"),
    )
    with op.batch_alter_table("idm_groups", schema=None) as batch_op:
        batch_op.create_index("ix_idm_groups_display_name", ["display_name"], unique=False)

    op.create_table(
        "idm_identities",
        sa.Column("user_id", sa.String(length=256), nullable=False),
        sa.Column("scim_id", sa.String(length=36), nullable=True),
        sa.Column("external_id", sa.String(length=256), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("given_name", sa.String(length=256), nullable=True),
        sa.Column("family_name", sa.String(length=256), nullable=True),
        sa.Column("display_name", sa.String(length=512), nullable=True),
        sa.Column("title", sa.String(length=256), nullable=True),
        sa.Column("department", sa.String(length=256), nullable=True),
        sa.Column("employee_number", sa.String(length=64), nullable=True),
        sa.Column("manager_user_id", sa.String(length=256), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
        sa.UniqueConstraint("scim_id"),
    )
    with op.batch_alter_table("idm_identities", schema=None) as batch_op:
        batch_op.create_index("ix_idm_identities_email", ["email"], unique=False)
        batch_op.create_index("ix_idm_identities_manager", ["manager_user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("idm_identities", schema=None) as batch_op:
        batch_op.drop_index("ix_idm_identities_manager")
        batch_op.drop_index("ix_idm_identities_email")

    op.drop_table("idm_identities")
    with op.batch_alter_table("idm_groups", schema=None) as batch_op:
        batch_op.drop_index("ix_idm_groups_display_name")

    op.drop_table("idm_groups")
    with op.batch_alter_table("idm_group_members", schema=None) as batch_op:
        batch_op.drop_index("ix_idm_group_members_user")

    op.drop_table("idm_group_members")
