"""The directory read whole for the full reconcile (``reconcile --full``).

Entries are read with paged searches inside the managed containers only, and handed to the
LDAP planner as they are, so the full reconcile decides what drifted exactly as an apply would
decide what to write. Every entry in the managed containers is scim-sync's: one that no staged
resource accounts for is an orphan (the same rule that lets the default adoption policy take
over entries there).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from connectors.ldap.connection import ConnectionPool, Entry
from connectors.ldap.directory import Directory, eq
from connectors.ldap.mapping import Layout
from connectors.ldap.matching import fold
from connectors.ldap.names import dn_key
from connectors.ldap.observe import observe
from connectors.ldap.ownership import Ownership
from connectors.ldap.plan import LdapObserved
from reconcile.errors import PermanentTargetError
from reconcile.model import Desired, ResourceKind
from reconcile.ports import Found, TargetBase


class LdapInventory(TargetBase[LdapObserved]):
    """The read side of the LDAP target: it shares the target's pool and layout."""

    layout: Layout
    ownership: Ownership
    _pool: ConnectionPool

    def fold_name(self, name: str) -> str:
        """Names as the directory compares them (the full reconcile matches entries without
        an anchor to staged resources this way)."""
        return fold(name)

    def inventory(self, kind: ResourceKind) -> Iterator[Found[LdapObserved]]:
        layout = self.layout
        if kind is ResourceKind.USER:
            containers = dict.fromkeys((layout.users_dn, layout.disabled_dn))
            search_filter = eq("objectClass", layout.user_class)
            attributes = [*layout.managed_attributes, layout.kind.anchor_attribute]
            naming: tuple[str, ...] = (layout.uid_attribute,)
        else:
            containers = dict.fromkeys((layout.groups_dn,))
            search_filter = eq("objectClass", layout.group_object_class)
            attributes = [
                *layout.group_managed_attributes,
                layout.kind.members_read_as(layout.member_attribute),
                layout.kind.anchor_attribute,
            ]
            naming = (layout.kind.group_name_attribute, "cn")  # a group made by hand: its CN
        for container in containers:
            top = dn_key(container)
            with self._pool.session() as session:
                for entry in session.paged_search(container, search_filter, attributes):
                    if entry.dn != container and dn_key(entry.dn) != top:
                        yield _found(kind, entry, naming)

    def observe_found(
        self, work: Sequence[tuple[Desired, str | None, Found[LdapObserved]]]
    ) -> list[LdapObserved]:
        """The inventory's entries themselves, with the references each plan needs resolved
        for the whole page at once, and who holds the entries matched by name asked once."""
        entries: list[list[Entry]] = [
            [found.state.entry] if found.state.entry else [] for _, _, found in work
        ]
        with self._pool.session() as session:
            directory = Directory(session, self.layout, self.ownership.fork())
            return observe(directory, [(d, anchor) for d, anchor, _ in work], entries)

    def remove(self, found: Found[LdapObserved]) -> None:
        """Delete the orphan, only if the entry at its DN is still the one compared (an entry
        renamed in meanwhile, or another one now at that DN, is left alone)."""
        with self._pool.session() as session:
            current = session.read(found.locator, [self.layout.kind.anchor_attribute])
            if current is None or current.entry_uuid != found.anchor:
                raise PermanentTargetError(
                    f"'{found.locator}' is no longer the entry compared; not removed"
                )
            if found.kind is ResourceKind.USER:
                Directory(session, self.layout, self.ownership.fork()).drop_references(
                    found.locator
                )
            session.delete(found.locator)


def _found(kind: ResourceKind, entry: Entry, naming: Sequence[str]) -> Found[LdapObserved]:
    """The entry as the full reconcile sees it, named by the first of ``naming`` it holds."""
    names = next((values for attribute in naming if (values := entry.get(attribute))), [])
    name = names[0] if names else entry.dn
    return Found(kind, entry.entry_uuid, None, name, entry.dn, LdapObserved(entry))
