"""``externalId`` leaves the attribute index: the column serves it

Revision ID: 0008_external_id_rows
Revises: 0007_boolean_primary

Every filter and sort on ``externalId`` already used the ``external_id`` column of
``scim_resources``; its rows in ``scim_attr_values`` served only ``externalId pr``, which now
reads the column too. Writes no longer add the row (one of about thirteen per created user, each
an entry in two indexes), and this revision deletes the rows already there. Nothing a client
sees changes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_external_id_rows"
down_revision: str | None = "0007_boolean_primary"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(sa.text("DELETE FROM scim_attr_values WHERE path = 'externalid'"))


def downgrade() -> None:
    """The rows come back from the column: the value and its place as the writes made them."""
    op.execute(
        sa.text(
            "INSERT INTO scim_attr_values (scim_id, path, elem, text_value, num_value) "
            "SELECT scim_id, 'externalid', 0, substr(external_id, 1, 1024), NULL "
            "FROM scim_resources WHERE external_id IS NOT NULL AND deleted_at IS NULL"
        )
    )
