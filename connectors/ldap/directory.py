"""Finding entries and keeping references to them right, shared by the user and group paths.

Entries are found by their ``entryUUID`` (the anchor the ledger keeps), so an entry renamed or
moved by hand is still the same entry; only when the anchor finds nothing is the entry looked up
by name, and then it is taken over only if no other staged resource holds it and the adoption
policy allows. Members and managers are found by their own anchors, inside the managed subtree.
References (group members, managers) are changed by value deltas wherever they are under the
base DN, the way OpenLDAP's refint overlay would, so a directory without it stays consistent.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from connectors.ldap.connection import ADD, DELETE, REPLACE, Entry, Session
from connectors.ldap.errors import LdapResultError
from connectors.ldap.mapping import Layout
from connectors.ldap.matching import same_name
from connectors.ldap.names import escape_filter_value, is_within
from connectors.ldap.ownership import Ownership
from reconcile.errors import NotReadyError, PermanentTargetError

LOOKUP_CHUNK = 200
"""Anchors per OR-filter when resolving members: short filters, few round trips."""
OBJECT_CLASS_VIOLATION = 65
ENTRY_ALREADY_EXISTS = 68


def eq(attribute: str, value: str) -> str:
    return f"({attribute}={escape_filter_value(value)})"


def users_filter(layout: Layout, user_ids: Iterable[str]) -> str:
    """User entries holding any of ``user_ids`` (one OR-filter: keep the list short)."""
    names = "".join(eq(layout.uid_attribute, u) for u in user_ids)
    return f"(&{eq('objectClass', layout.user_class)}(|{names}))"


@dataclass(frozen=True, slots=True)
class Naming:
    """How a resource is looked up by name: who asks, the attribute, the value, the filter."""

    owner: str
    """The scim_id of the resource looking for its entry."""
    attribute: str
    value: str
    filter: str
    what: str
    """The resource as error messages name it."""
    fallback: str | None = None
    """Where the name is read on an entry that lacks ``attribute`` (an AD group made by hand
    has a CN and no ``displayName``)."""

    @property
    def attributes(self) -> list[str]:
        """What to read of an entry to tell whether it matches."""
        return [self.attribute] if self.fallback is None else [self.attribute, self.fallback]

    def matches(self, entry: Entry) -> bool:
        values = entry.get(self.attribute)
        if not values and self.fallback is not None:
            values = entry.get(self.fallback)
        return any(same_name(v, self.value) for v in values)


@contextmanager
def clash_explained(directory: Directory, dn: str, naming: Naming) -> Iterator[None]:
    """An add or modify-DN onto ``dn`` that the directory refuses because the name exists:
    a dead letter naming both resources when the entry there is another's (the names differ
    only in ways the directory ignores), else the usual retry (a race, or an unmanaged entry
    that may yet go)."""
    try:
        yield
    except LdapResultError as exc:
        if exc.code == ENTRY_ALREADY_EXISTS:
            directory.refuse_clash(dn, naming)
        raise


class Directory:
    """One session on the directory, with the layout and who holds which entry at hand."""

    def __init__(self, session: Session, layout: Layout, ownership: Ownership) -> None:
        self.session = session
        self.layout = layout
        self.ownership = ownership

    def find(self, anchor: str | None, naming: Naming, attributes: Sequence[str]) -> list[Entry]:
        """The entries :meth:`choose` chooses from, in one search: the anchored one and those
        named alike."""
        kind = self.layout.kind
        search_filter = (
            f"(|{kind.anchor_filter(anchor)}{naming.filter})" if anchor else naming.filter
        )
        return self.session.search(
            self.layout.base_dn,
            search_filter,
            [*attributes, *naming.attributes, kind.anchor_attribute],
        )

    def choose(
        self, entries: Sequence[Entry], anchor: str | None, naming: Naming, managed: Sequence[str]
    ) -> Entry | None:
        """The entry holding ``anchor``, else the one named like ``naming`` if no other staged
        resource holds it and the adoption policy allows taking it over; None when there is
        neither.

        An entry the naming filter found counts only if its naming value is the wanted one
        under the directory's own matching rule (:mod:`connectors.ldap.matching`)."""
        for entry in entries:
            if anchor and entry.entry_uuid == anchor:
                return entry
        entries = [e for e in entries if naming.matches(e)]
        if not entries:
            return None
        self.ownership.refuse_others([e.entry_uuid for e in entries], naming.owner, naming.what)
        if len(entries) > 1:
            dns = "; ".join(e.dn for e in entries[:5])
            raise PermanentTargetError(
                f"{naming.what} matches {len(entries)} entries ({dns}); scim-sync will not guess "
                "which one to manage: remove or rename the extra ones"
            )
        entry = entries[0]
        policy = self.layout.adopt
        if policy == "never" or (
            policy == "subtree" and not any(is_within(entry.dn, top) for top in managed)
        ):
            where = "" if policy == "never" else " outside the managed subtree"
            raise PermanentTargetError(
                f"{naming.what} already exists{where} as '{entry.dn}' and "
                f"SCIM_SYNC_LDAP_ADOPT={policy} forbids taking it over; move or delete it, or "
                "change the adoption policy"
            )
        return entry

    def choose_to_delete(
        self, entries: Sequence[Entry], anchor: str | None, naming: Naming, managed: Sequence[str]
    ) -> Entry | None:
        """The entry a delete should remove: the anchored one, or without an anchor only one the
        adoption policy would manage — never an unrelated entry that merely shares the name,
        and never one another staged resource holds (even by the same anchor: a delete cannot
        be undone, so it asks the ledger every time)."""
        try:
            entry = self.choose(entries, anchor, naming, managed)
        except (PermanentTargetError, NotReadyError):
            if anchor:
                raise
            return None
        if entry is not None:
            self.ownership.refuse_others([entry.entry_uuid], naming.owner, naming.what)
        return entry

    def refuse_clash(self, dn: str, naming: Naming) -> None:
        """After the directory refused to add or rename onto ``dn`` (the name exists): if the
        entry there is another staged resource's, say so for good instead of retrying."""
        entry = self.session.read(dn, [self.layout.kind.anchor_attribute])
        if entry is not None and entry.entry_uuid:
            self.ownership.refuse_others([entry.entry_uuid], naming.owner, naming.what)

    def user_dns(self, scim_ids: Iterable[str]) -> dict[str, str]:
        """DN of each user (by scim_id) that the target manages: found by the user's own
        anchor, inside the users or disabled DN only. A user without an anchor yet, or whose
        entry is not there, is absent (its group or report waits for it)."""
        anchors = self.ownership.anchors_of(list(dict.fromkeys(scim_ids)))
        if not anchors:
            return {}
        by_anchor = {a.casefold(): s for s, a in anchors.items()}
        wanted = sorted(set(anchors.values()))
        layout = self.layout
        kind = layout.kind
        filters = [
            f"(&{eq('objectClass', layout.user_class)}"
            f"(|{''.join(kind.anchor_filter(a) for a in wanted[start : start + LOOKUP_CHUNK])}))"
            for start in range(0, len(wanted), LOOKUP_CHUNK)
        ]
        found: dict[str, str] = {}
        for container in self.managed_user_containers():
            for entry in self.session.search_many(container, filters, [kind.anchor_attribute]):
                scim_id = by_anchor.get(entry.entry_uuid.casefold())
                if scim_id is not None:
                    found[scim_id] = entry.dn
        return found

    def managed_user_containers(self) -> list[str]:
        """The users and disabled DNs, one of them only when it lies inside the other."""
        users, disabled = self.layout.users_dn, self.layout.disabled_dn
        if is_within(disabled, users):
            return [users]
        if is_within(users, disabled):
            return [disabled]
        return [users, disabled]

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
