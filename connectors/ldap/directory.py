"""Finding entries and keeping references to them right, shared by the user and group paths.

Entries are found by their ``entryUUID`` (the anchor the ledger keeps), so an entry renamed or
moved by hand is still the same entry; only when the anchor finds nothing is the entry looked up
by name, and then the adoption policy decides whether a pre-existing entry may be taken over.
References (group members, managers) are changed by value deltas wherever they are under the
base DN, the way OpenLDAP's refint overlay would, so a directory without it stays consistent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from connectors.ldap.connection import ADD, DELETE, REPLACE, Entry, Session
from connectors.ldap.errors import LdapResultError
from connectors.ldap.mapping import Layout
from connectors.ldap.names import escape_filter_value, is_within
from reconcile.errors import PermanentTargetError

LOOKUP_CHUNK = 200
"""Names per OR-filter when resolving members: short filters, few round trips."""
OBJECT_CLASS_VIOLATION = 65


def eq(attribute: str, value: str) -> str:
    return f"({attribute}={escape_filter_value(value)})"


def users_filter(layout: Layout, user_ids: Iterable[str]) -> str:
    """User entries holding any of ``user_ids`` (one OR-filter: keep the list short)."""
    names = "".join(eq(layout.uid_attribute, u) for u in user_ids)
    return f"(&{eq('objectClass', layout.user_class)}(|{names}))"


class Directory:
    def __init__(
        self,
        session: Session,
        layout: Layout,
        prefetched: dict[str, list[Entry]] | None = None,
    ) -> None:
        self.session = session
        self.layout = layout
        self.prefetched = prefetched
        """Entries looked up ahead for a batch of creates, by case-folded name; used once."""

    def locate(
        self,
        anchor: str | None,
        naming_filter: str,
        attributes: Sequence[str],
        managed: Sequence[str],
        what: str,
        key: str | None = None,
    ) -> Entry | None:
        """The entry holding ``anchor``, else the one matching ``naming_filter`` if the adoption
        policy allows taking it over; None when there is neither. One search either way, or
        none when the run looked the name up ahead (``key`` in :attr:`prefetched`)."""
        known = (
            self.prefetched.pop(key, None)
            if anchor is None and key is not None and self.prefetched is not None
            else None
        )
        if known is not None:
            entries = known
        else:
            search_filter = (
                f"(|{eq('entryUUID', anchor)}{naming_filter})" if anchor else naming_filter
            )
            entries = self.session.search(
                self.layout.base_dn, search_filter, [*attributes, "entryUUID"]
            )
        for entry in entries:
            if anchor and entry.entry_uuid == anchor:
                return entry
        if not entries:
            return None
        if len(entries) > 1:
            dns = "; ".join(e.dn for e in entries[:5])
            raise PermanentTargetError(
                f"{what} matches {len(entries)} entries ({dns}); scim-sync will not guess which "
                "one to manage: remove or rename the extra ones"
            )
        entry = entries[0]
        policy = self.layout.adopt
        if policy == "never" or (
            policy == "subtree" and not any(is_within(entry.dn, top) for top in managed)
        ):
            where = "" if policy == "never" else " outside the managed subtree"
            raise PermanentTargetError(
                f"{what} already exists{where} as '{entry.dn}' and SCIM_SYNC_LDAP_ADOPT={policy} "
                "forbids taking it over; move or delete it, or change the adoption policy"
            )
        return entry

    def locate_to_delete(
        self,
        anchor: str | None,
        naming_filter: str,
        managed: Sequence[str],
        what: str,
    ) -> Entry | None:
        """The entry a delete should remove: the anchored one, or without an anchor only one the
        adoption policy would manage — never an unrelated entry that merely shares the name."""
        try:
            return self.locate(anchor, naming_filter, [], managed, what)
        except PermanentTargetError:
            if anchor:
                raise
            return None

    def user_dns(self, user_ids: Iterable[str]) -> dict[str, str]:
        """DN of each user ID (case-folded key) found among user entries under the base DN.

        When a user ID appears twice, the entry in the managed subtree wins.
        """
        uid = self.layout.uid_attribute
        managed = (self.layout.users_dn, self.layout.disabled_dn)
        found: dict[str, str] = {}
        for entry in self.find_users(user_ids, [uid]):
            for value in entry.get(uid):
                key = value.casefold()
                if key not in found or any(is_within(entry.dn, m) for m in managed):
                    found[key] = entry.dn
        return found

    def find_users(self, user_ids: Iterable[str], attributes: Sequence[str]) -> list[Entry]:
        """User entries under the base DN holding any of ``user_ids``, looked up in OR-filters of
        :data:`LOOKUP_CHUNK` names, all sent at once."""
        wanted = sorted(set(user_ids))
        filters = [
            users_filter(self.layout, wanted[start : start + LOOKUP_CHUNK])
            for start in range(0, len(wanted), LOOKUP_CHUNK)
        ]
        return self.session.search_many(self.layout.base_dn, filters, attributes)

    def follow_rename(self, old_dn: str, new_dn: str) -> None:
        """Point group members and manager references at the entry's new DN."""
        for attribute, entry in self._referrers(old_dn):
            if attribute == self._manager_attribute():
                self.session.modify(entry.dn, {attribute: [(REPLACE, [new_dn])]})
            else:
                self.session.modify(entry.dn, {attribute: [(DELETE, [old_dn]), (ADD, [new_dn])]})

    def drop_references(self, dn: str) -> None:
        """Remove ``dn`` from every group and manager attribute that names it."""
        for attribute, entry in self._referrers(dn):
            if attribute == self._manager_attribute():
                self.session.modify(entry.dn, {attribute: [(DELETE, [dn])]})
            else:
                self.remove_members(entry.dn, attribute, [dn])

    def remove_members(self, group_dn: str, attribute: str, dns: list[str]) -> None:
        """Delete member values; a group left with none gets the placeholder in the same modify."""
        try:
            self.session.modify(group_dn, {attribute: [(DELETE, dns)]})
        except LdapResultError as exc:
            if exc.code != OBJECT_CLASS_VIOLATION:
                raise
            placeholder = [self.layout.placeholder_member]
            self.session.modify(group_dn, {attribute: [(DELETE, dns), (ADD, placeholder)]})

    def _manager_attribute(self) -> str | None:
        return self.layout.attributes.get("manager")

    def _referrers(self, dn: str) -> list[tuple[str, Entry]]:
        """Entries whose member, uniqueMember or manager names ``dn``: one search per attribute,
        asking for no attributes back (a group may have a hundred thousand members)."""
        attributes = ["member", "uniqueMember"]
        manager = self._manager_attribute()
        if manager:
            attributes.append(manager)
        return [
            (attribute, entry)
            for attribute in attributes
            for entry in self.session.search(self.layout.base_dn, eq(attribute, dn), ["1.1"])
        ]
