"""The directory read back for plans and drift repair (``reconcile --dry-run`` and ``--full``).

Entries are read with paged searches inside the managed containers only, and described in the
target's own terms: the attribute values scim-sync would write, plus ``active`` and the manager
as a user ID, so a plan compares like with like. Every entry in the managed containers is
scim-sync's: one that no staged resource accounts for is an orphan (the same rule that lets the
default adoption policy take over entries there).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from connectors.ldap.connection import ConnectionPool, Entry
from connectors.ldap.directory import Directory, Naming, eq
from connectors.ldap.groups import group_naming
from connectors.ldap.mapping import Layout
from connectors.ldap.matching import fold
from connectors.ldap.names import DnSyntaxError, dn_key, first_value, is_within
from connectors.ldap.ownership import Ownership
from connectors.ldap.users import user_naming
from reconcile.drift import Observed
from reconcile.errors import PermanentTargetError, TargetError
from reconcile.model import Desired, DesiredGroup, DesiredIdentity, ResourceKind
from reconcile.ports import Action, Applied


def _values(values: list[str]) -> tuple[str, ...] | None:
    return tuple(sorted(values)) or None


def _user_id_of(dn: str) -> str | None:
    try:
        return first_value(dn)
    except DnSyntaxError:
        return None


class LdapInventory:
    """Mixed into the LDAP target: it shares the target's pool and layout."""

    layout: Layout
    ownership: Ownership
    _pool: ConnectionPool

    # ---- what the target would hold ----------------------------------------------------

    def expected(self, desired: DesiredIdentity | DesiredGroup) -> Mapping[str, object] | None:
        layout = self.layout
        if isinstance(desired, DesiredGroup):
            return {"cn": (desired.display_name,)}
        if layout.disable == "delete" and not desired.active:
            return None
        values = layout.user_values(desired, None)
        manager = layout.attributes.get("manager")
        out: dict[str, object] = {
            attribute: _values(v)
            for attribute, v in values.items()
            if attribute != manager and attribute != self._disabled_flag()
        }
        if manager:
            out["manager_user_id"] = desired.manager_user_id
        out["active"] = desired.active
        return out

    def _disabled_flag(self) -> str | None:
        return self.layout.disabled_attribute[0] if self.layout.disable == "attribute" else None

    # ---- what it holds -----------------------------------------------------------------

    def _user(self, entry: Entry) -> Observed:
        layout = self.layout
        manager = layout.attributes.get("manager")
        attributes: dict[str, object] = {
            attribute: _values(entry.get(attribute))
            for attribute in layout.managed_attributes
            if attribute != manager and attribute != self._disabled_flag()
        }
        if manager:
            managers = entry.get(manager)
            attributes["manager_user_id"] = _user_id_of(managers[0]) if managers else None
        if layout.disable == "move":
            active = not is_within(entry.dn, layout.disabled_dn)
        elif layout.disable == "attribute":
            flag, value = layout.disabled_attribute
            active = value not in entry.get(flag)
        else:
            active = True
        attributes["active"] = active
        user_ids = entry.get(layout.uid_attribute)
        return Observed(
            ResourceKind.USER,
            anchor=entry.entry_uuid,
            scim_id=None,
            name=user_ids[0] if user_ids else entry.dn,
            attributes=attributes,
            locator=entry.dn,
        )

    def _group(self, entry: Entry) -> Observed:
        layout = self.layout
        placeholder = dn_key(layout.placeholder_member)
        members = frozenset(
            user_id
            for dn in entry.get(layout.member_attribute)
            if dn_key(dn) != placeholder and (user_id := _user_id_of(dn)) is not None
        )
        names = entry.get("cn")
        return Observed(
            ResourceKind.GROUP,
            anchor=entry.entry_uuid,
            scim_id=None,
            name=names[0] if names else entry.dn,
            attributes={"cn": _values(names)},
            members=members,
            locator=entry.dn,
        )

    def fold_name(self, name: str) -> str:
        """Names as the directory compares them (the full reconcile matches entries without
        an anchor to staged resources this way)."""
        return fold(name)

    def observe(self, desired: Desired, anchor: str | None) -> Observed | None:
        found = self.observe_many([(desired, anchor)])[0]
        if isinstance(found, TargetError):
            raise found
        return found

    def observe_many(
        self, work: Sequence[tuple[Desired, str | None]]
    ) -> list[Observed | TargetError | None]:
        """Each resource's entry as its apply would find it, or the error the apply would meet
        (another resource's entry: a clash; one the adoption policy forbids: a refusal).

        One search per resource, as the apply makes; who holds the entries found by name is
        asked of the ledger once for the whole batch, as the read-ahead does."""
        layout = self.layout
        lookups: list[tuple[Naming, Sequence[str], Sequence[str]] | None] = []
        for desired, _ in work:
            if isinstance(desired, DesiredIdentity):
                naming = user_naming(layout, desired.scim_id, desired.user_id)
                managed: Sequence[str] = (layout.users_dn, layout.disabled_dn)
                lookups.append((naming, layout.managed_attributes, managed))
            elif isinstance(desired, DesiredGroup):
                naming = group_naming(layout, desired.scim_id, desired.display_name)
                lookups.append((naming, ["cn", layout.member_attribute], (layout.groups_dn,)))
            else:
                lookups.append(None)
        out: list[Observed | TargetError | None] = []
        with self._pool.session() as session:
            directory = Directory(session, layout, self.ownership.fork())
            found = [
                directory.find(anchor, lookup[0], lookup[1]) if lookup else []
                for (_, anchor), lookup in zip(work, lookups, strict=True)
            ]
            directory.ownership.learn(
                anchors=[e.entry_uuid for entries in found for e in entries if e.entry_uuid]
            )
            for (desired, anchor), lookup, entries in zip(work, lookups, found, strict=True):
                if lookup is None:
                    out.append(None)
                    continue
                try:
                    entry = directory.choose(entries, anchor, lookup[0], lookup[2])
                except TargetError as exc:
                    out.append(exc)
                    continue
                if entry is None:
                    out.append(None)
                else:
                    convert = self._user if isinstance(desired, DesiredIdentity) else self._group
                    out.append(convert(entry))
        return out

    def inventory(self, kind: ResourceKind) -> Iterator[Observed]:
        layout = self.layout
        if kind is ResourceKind.USER:
            containers = dict.fromkeys((layout.users_dn, layout.disabled_dn))
            search_filter = eq("objectClass", layout.user_class)
            attributes = [*layout.managed_attributes, "entryUUID"]
            convert = self._user
        else:
            containers = dict.fromkeys((layout.groups_dn,))
            search_filter = eq("objectClass", layout.group_object_class)
            attributes = ["cn", layout.member_attribute, "entryUUID"]
            convert = self._group
        for container in containers:
            with self._pool.session() as session:
                for entry in session.paged_search(container, search_filter, attributes):
                    if dn_key(entry.dn) != dn_key(container):
                        yield convert(entry)

    def remove_orphan(self, observed: Observed) -> Applied:
        """Delete the orphan, only if the entry at its DN is still the one compared (an entry
        renamed in meanwhile, or another one now at that DN, is left alone)."""
        assert observed.locator is not None
        with self._pool.session() as session:
            current = session.read(observed.locator, ["entryUUID"])
            if current is None or current.entry_uuid != observed.anchor:
                raise PermanentTargetError(
                    f"'{observed.locator}' is no longer the entry compared; not removed"
                )
            if observed.kind is ResourceKind.USER:
                Directory(session, self.layout, self.ownership.fork()).drop_references(
                    observed.locator
                )
            session.delete(observed.locator)
        return Applied(Action.DELETED, None)
