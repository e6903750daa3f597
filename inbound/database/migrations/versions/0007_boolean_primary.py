"""``primary`` flags stored as strings become booleans

Revision ID: 0007_boolean_primary
Revises: 0006_renewal_lease

Until this revision a PATCH path such as ``roles[primary eq "True"].value`` that created its
element seeded it with the filter's value as written, so the stored role said
``"primary": "True"`` where every other write stores ``true`` (docs/entra-dialect.md, App
roles). From now on a seeded value is coerced like any other; this revision rewrites the
strings already stored: ``"true"``/``"false"`` in any case become the booleans, anything else
is left as it is. Only the stored JSON changes: the attribute index already held the text
``true``/``false`` for both spellings, the generation stays (what a target holds does not
change), and no audit event is written (no client changed anything).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0007_boolean_primary"
down_revision: str | None = "0006_renewal_lease"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PAGE = 500
Json = sa.JSON().with_variant(JSONB(), "postgresql")
resources = sa.table(
    "scim_resources",
    sa.column("scim_id", sa.String),
    sa.column("data", Json),
)
_CANDIDATES = {
    "postgresql": (
        "SELECT scim_id FROM scim_resources WHERE scim_id > :after AND "
        "jsonb_path_exists(data, '$.** ? (@.primary.type() == \"string\")') "
        "ORDER BY scim_id LIMIT :page"
    ),
    "sqlite": (
        "SELECT scim_id FROM scim_resources WHERE scim_id > :after AND EXISTS "
        "(SELECT 1 FROM json_tree(scim_resources.data) WHERE key = 'primary' AND type = 'text') "
        "ORDER BY scim_id LIMIT :page"
    ),
}
"""Resources holding a string ``primary`` anywhere, found by the database in one scan."""


def _element(item: Any) -> tuple[Any, bool]:
    if isinstance(item, dict) and isinstance(item.get("primary"), str):
        flag = item["primary"].lower()
        if flag in ("true", "false"):
            return {**item, "primary": flag == "true"}, True
    return item, False


def fixed(data: dict[str, Any]) -> dict[str, Any] | None:
    """``data`` with the string flags of its multi-valued attributes (core, and one level into
    an extension) made booleans; None when there was nothing to change."""
    changed = False

    def walk(container: dict[str, Any]) -> dict[str, Any]:
        nonlocal changed
        out: dict[str, Any] = {}
        for key, value in container.items():
            if isinstance(value, list):
                items = []
                for item in value:
                    new, touched = _element(item)
                    items.append(new)
                    changed = changed or touched
                out[key] = items
            else:
                out[key] = value
        return out

    result = walk(data)
    for key, value in data.items():
        if isinstance(value, dict) and ":" in key:
            result[key] = walk(value)
    return result if changed else None


def upgrade() -> None:
    bind = op.get_bind()
    query = _CANDIDATES.get(bind.dialect.name)
    if query is None:
        return
    after = ""
    while True:
        ids = list(bind.execute(sa.text(query), {"after": after, "page": PAGE}).scalars())
        if not ids:
            return
        rows = bind.execute(
            sa.select(resources.c.scim_id, resources.c.data).where(resources.c.scim_id.in_(ids))
        )
        for scim_id, data in rows:
            new = fixed(data) if isinstance(data, dict) else None
            if new is not None:
                bind.execute(
                    resources.update().where(resources.c.scim_id == scim_id).values(data=new)
                )
        after = ids[-1]


def downgrade() -> None:
    """Booleans are what every other write stores: there is nothing to put back."""
