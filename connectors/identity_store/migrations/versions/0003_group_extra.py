"""group records gain an ``extra`` JSON column for what an ``identity_store`` group mapping
adds, as identity records did in 0002

Revision ID: 0003_group_extra
Revises: 0002_roles_and_extra
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_group_extra"
down_revision: str | None = "0002_roles_and_extra"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idm_groups", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "extra",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("idm_groups", schema=None) as batch_op:
        batch_op.drop_column("extra")
