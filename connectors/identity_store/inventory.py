"""The Identity Manager store read back for planning and drift repair.

Only records that carry a ``scim_id`` are scim-sync's to manage: a record made before
scim-sync (no anchor) is never reported as an orphan.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import Engine, delete, select, update

from connectors.identity_store.tables import group_members, groups, identities
from reconcile.drift import GROUP_ATTRIBUTES, IDENTITY_ATTRIBUTES, Observed, desired_attributes
from reconcile.model import Desired, DesiredGroup, DesiredIdentity, ResourceKind
from reconcile.ports import Action, Applied

I = identities.c  # noqa: E741
G = groups.c
GM = group_members.c
PAGE = 1000


def _identity(row: Any) -> Observed:
    return Observed(
        ResourceKind.USER,
        anchor=row.scim_id,
        scim_id=row.scim_id,
        name=row.user_id,
        attributes={k: getattr(row, k) for k in IDENTITY_ATTRIBUTES},
    )


class IdentityStoreInventory:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def observe(self, desired: Desired, anchor: str | None) -> Observed | None:
        with self._engine.connect() as conn:
            if desired.kind is ResourceKind.USER:
                row = conn.execute(select(identities).where(I.scim_id == desired.scim_id)).first()
                return _identity(row) if row is not None else None
            group = conn.execute(select(groups).where(G.scim_id == desired.scim_id)).first()
            if group is None:
                return None
            members = frozenset(
                conn.execute(
                    select(GM.user_id).where(GM.group_scim_id == desired.scim_id)
                ).scalars()
            )
        return self._observed_group(group, members)

    @staticmethod
    def _observed_group(row: Any, members: frozenset[str]) -> Observed:
        return Observed(
            ResourceKind.GROUP,
            anchor=row.scim_id,
            scim_id=row.scim_id,
            name=row.display_name,
            attributes={k: getattr(row, k) for k in GROUP_ATTRIBUTES},
            members=members,
        )

    def inventory(self, kind: ResourceKind) -> Iterator[Observed]:
        """Keyset pages, so memory stays flat however large the store is."""
        after = ""
        while True:
            with self._engine.connect() as conn:
                if kind is ResourceKind.USER:
                    rows = conn.execute(
                        select(identities)
                        .where(I.scim_id.is_not(None), I.user_id > after)
                        .order_by(I.user_id)
                        .limit(PAGE)
                    ).all()
                    if not rows:
                        return
                    after = rows[-1].user_id
                    page = [_identity(r) for r in rows]
                else:
                    rows = conn.execute(
                        select(groups).where(G.scim_id > after).order_by(G.scim_id).limit(PAGE)
                    ).all()
                    if not rows:
                        return
                    after = rows[-1].scim_id
                    members: dict[str, set[str]] = {r.scim_id: set() for r in rows}
                    for group_id, user_id in conn.execute(
                        select(GM.group_scim_id, GM.user_id).where(GM.group_scim_id.in_(members))
                    ):
                        members[group_id].add(user_id)
                    page = [self._observed_group(r, frozenset(members[r.scim_id])) for r in rows]
            yield from page

    def expected(self, desired: DesiredIdentity | DesiredGroup) -> Mapping[str, object] | None:
        """The store keeps every desired attribute as it is."""
        return desired_attributes(desired)

    def remove_orphan(self, observed: Observed) -> Applied:
        with self._engine.begin() as conn:
            if observed.kind is ResourceKind.GROUP:
                conn.execute(delete(group_members).where(GM.group_scim_id == observed.anchor))
                conn.execute(delete(groups).where(G.scim_id == observed.anchor))
            else:
                conn.execute(delete(group_members).where(GM.user_id == observed.name))
                conn.execute(
                    update(identities)
                    .where(I.manager_user_id == observed.name)
                    .values(manager_user_id=None)
                )
                conn.execute(delete(identities).where(I.scim_id == observed.anchor))
        return Applied(Action.DELETED, None)
