"""token renewal takes the job lock every singleton job takes (``job_leases`` on SQLite): its
own lease columns go

Revision ID: 0006_renewal_lease
Revises: 0005_entra_health
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_renewal_lease"
down_revision: str | None = "0005_entra_health"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("token_renewal", schema=None) as batch_op:
        batch_op.drop_column("lease_until")
        batch_op.drop_column("lease_owner")


def downgrade() -> None:
    with op.batch_alter_table("token_renewal", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
