"""identity records gain what a mapping adds: an ``extra`` JSON column, and their application
roles in ``idm_identity_roles`` (cascading with the record)

Revision ID: 0002_roles_and_extra
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_roles_and_extra"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idm_identities", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "extra",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
    op.create_table(
        "idm_identity_roles",
        sa.Column("user_id", sa.String(length=256), nullable=False),
        sa.Column("value", sa.String(length=512), nullable=False),
        sa.Column("display", sa.String(length=512), nullable=True),
        sa.Column("is_primary", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["idm_identities.user_id"],
            name="fk_idm_identity_roles_user_id",
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "value"),
    )
    op.create_index("ix_idm_identity_roles_value", "idm_identity_roles", ["value"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_idm_identity_roles_value", table_name="idm_identity_roles")
    op.drop_table("idm_identity_roles")
    with op.batch_alter_table("idm_identities", schema=None) as batch_op:
        batch_op.drop_column("extra")
