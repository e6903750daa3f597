"""name keys fold Unicode width and spacing, not only case

Revision ID: 0004_name_keys
Revises: 0003_tokens

``name_key`` was ``casefold()`` of the userName or group displayName; it becomes NFKC →
casefold → whitespace runs folded to one space → stripped, so ``alice``, ``alice `` and
fullwidth ``alice`` (U+FF41 …) are one name. Live rows that now share a key are all kept: the oldest
(by creation) gets the key, each younger one a key no name can fold to (it starts with a
space: folded names are stripped), and a warning and an audit event name both. Such a
resource still answers by id and can be renamed; its name is taken until then.
"""

import logging
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0004_name_keys"
down_revision: str | None = "0003_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger(__name__)
KEY_LENGTH = 512
Json = sa.JSON().with_variant(JSONB(), "postgresql")
resources = sa.table(
    "scim_resources",
    sa.column("scim_id", sa.String),
    sa.column("kind", sa.String),
    sa.column("name_key", sa.String),
    sa.column("data", Json),
    sa.column("created_at", sa.DateTime),
    sa.column("deleted_at", sa.DateTime),
)
audit = sa.table(
    "audit_events",
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("actor", sa.String),
    sa.column("scim_id", sa.String),
    sa.column("kind", sa.String),
    sa.column("operation", sa.String),
    sa.column("outcome", sa.String),
    sa.column("detail", Json),
)


def fold(name: str) -> str:
    """The rule of ``inbound.input_rules.name_key`` as of this revision (frozen here, so the
    migration means the same thing whatever the code becomes)."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return " ".join(folded.split())


def set_aside(scim_id: str, key: str) -> str:
    return f" {scim_id} {key}"[:KEY_LENGTH]


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(
            resources.c.scim_id,
            resources.c.kind,
            resources.c.name_key,
            resources.c.data,
            resources.c.deleted_at,
        ).order_by(resources.c.created_at, resources.c.scim_id)
    ).all()
    holders: dict[tuple[str, str], str] = {}
    new_keys: dict[str, str] = {}
    clashes: list[tuple[str, str, str, str]] = []
    for scim_id, kind, old_key, data, deleted_at in rows:
        field = "userName" if kind == "User" else "displayName"
        name = data.get(field) if isinstance(data, dict) else None
        key = fold(name)[:KEY_LENGTH] if isinstance(name, str) else old_key
        if deleted_at is None:
            holder = holders.setdefault((kind, key), scim_id)
            if holder != scim_id:
                clashes.append((scim_id, kind, holder, str(name)))
                key = set_aside(scim_id, key)
        if key != old_key:
            new_keys[scim_id] = key
    # two steps, so no row ever holds a key another row still has (the live-name index is
    # checked row by row on PostgreSQL)
    update = (
        sa.update(resources)
        .where(resources.c.scim_id == sa.bindparam("id"))
        .values(name_key=sa.bindparam("key"))
    )
    if new_keys:
        conn.execute(update, [{"id": i, "key": f" {i}"} for i in new_keys])
        conn.execute(update, [{"id": i, "key": k} for i, k in new_keys.items()])
    now = datetime.now(UTC)
    for scim_id, kind, holder, name in clashes:
        log.warning(
            "name clash kept apart",
            extra={"scim_id": scim_id, "kind": kind, "holder": holder},
        )
        conn.execute(
            sa.insert(audit).values(
                at=now,
                actor="migration",
                scim_id=scim_id,
                kind=kind,
                operation="name-clash",
                outcome="kept-apart",
                detail={
                    "name": name,
                    "clashes_with": holder,
                    "why": "names now compare ignoring case, width and spacing; "
                    "rename this resource to free the name",
                },
            )
        )


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(resources.c.scim_id, resources.c.kind, resources.c.data)).all()
    update = (
        sa.update(resources)
        .where(resources.c.scim_id == sa.bindparam("id"))
        .values(name_key=sa.bindparam("key"))
    )
    keys = []
    for scim_id, kind, data in rows:
        name = data.get("userName" if kind == "User" else "displayName") if data else None
        if isinstance(name, str):
            keys.append({"id": scim_id, "key": name.casefold()[:KEY_LENGTH]})
    if keys:
        conn.execute(update, [{"id": k["id"], "key": f" {k['id']}"} for k in keys])
        conn.execute(update, keys)
