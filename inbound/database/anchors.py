"""Who holds an anchor on a target, read from the ledger (:class:`reconcile.ports.AnchorBook`).

Every outcome the ledger records keeps the target's anchor for the resource (an LDAP
``entryUUID``, the Identity Manager's ``scim_id``), and a delete once applied clears it. So the
ledger knows which entries belong to which staged resource, and a target can ask before it takes
over an entry found only by a name that may be a lookalike of another resource's. Questions come
in batches (a read-ahead chunk, a group's members) and are answered in a few queries.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import Engine, case, select

from inbound.database.tables import reading, resources, sync_state
from reconcile.model import ResourceKind
from reconcile.ports import AnchorHolder

S = sync_state.c
R = resources.c
CHUNK = 500
"""Values per IN list: far below every driver's parameter limit."""


def _chunks(values: Sequence[str]) -> Iterator[list[str]]:
    wanted = sorted(set(values))
    for start in range(0, len(wanted), CHUNK):
        yield wanted[start : start + CHUNK]


class StagedAnchors:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def holders(self, target: str, anchors: Sequence[str]) -> dict[str, list[AnchorHolder]]:
        name = case(
            (R.kind == ResourceKind.USER.value, R.data["userName"].as_string()),
            else_=R.display_name,
        )
        found: dict[str, list[AnchorHolder]] = {}
        with reading(self._engine) as conn:
            for chunk in _chunks(anchors):
                rows = conn.execute(
                    select(S.anchor, S.scim_id, R.kind, name, R.deleted_at)
                    .join(resources, R.scim_id == S.scim_id)
                    .where(S.target == target, S.anchor.in_(chunk))
                    .order_by(S.anchor, S.scim_id)
                )
                for anchor, scim_id, kind, staged_name, deleted_at in rows:
                    holder = AnchorHolder(
                        scim_id, ResourceKind(kind), staged_name or "", deleted_at is not None
                    )
                    found.setdefault(anchor, []).append(holder)
        return found

    def anchors_of(self, target: str, scim_ids: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        with reading(self._engine) as conn:
            for chunk in _chunks(scim_ids):
                rows = conn.execute(
                    select(S.scim_id, S.anchor).where(
                        S.target == target, S.scim_id.in_(chunk), S.anchor.is_not(None)
                    )
                )
                found.update((scim_id, anchor) for scim_id, anchor in rows)
        return found
