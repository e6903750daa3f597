"""How a user's entry is looked up: by name (its naming filter), and, for a batch, in a few
searches that read many users ahead (by name those without an anchor, by anchor the others)
and that read back the anchors of the users it added."""

from __future__ import annotations

from collections.abc import Sequence

from connectors.ldap.ber import all_of, any_of, equals
from connectors.ldap.connection import Entry, Session
from connectors.ldap.directory import LOOKUP_CHUNK, Naming, eq
from connectors.ldap.mapping import Layout
from connectors.ldap.matching import fold
from connectors.ldap.names import DnKey, dn_key
from reconcile.model import DesiredIdentity


def user_filter(layout: Layout, user_id: str) -> str:
    return f"(&{eq('objectClass', layout.user_class)}{eq(layout.uid_attribute, user_id)})"


def user_naming(layout: Layout, scim_id: str, user_id: str) -> Naming:
    return Naming(
        owner=scim_id,
        attribute=layout.uid_attribute,
        value=user_id,
        filter=user_filter(layout, user_id),
        what=f"user '{user_id}' (id {scim_id})",
    )


def name_key(user_id: str) -> str:
    """Where the entries found ahead for a user ID wait in a batch's read-ahead."""
    return f"uid:{user_id}"


def anchor_key(anchor: str) -> str:
    """Where an anchored entry read ahead waits in a batch's read-ahead."""
    return f"entryuuid:{anchor.casefold()}"


def read_ahead_filters(
    layout: Layout, users: Sequence[tuple[DesiredIdentity, str | None]]
) -> tuple[bytes | None, bytes | None]:
    """The searches that read a few users ahead (at most :data:`LOOKUP_CHUNK`): by name those
    with no anchor yet (a create is then one add instead of a search and an add), by anchor the
    others (an update then sends only what differs, and nothing when nothing does). Encoded
    as BER directly: the same filters as :func:`users_filter` and ``(|(entryUUID=…)…)``, without
    escaping values into text only to parse them back."""
    names = sorted({d.user_id for d, anchor in users if not anchor})
    anchors = sorted({anchor for _, anchor in users if anchor})
    by_name = (
        all_of(
            [
                equals("objectClass", layout.user_class),
                any_of(equals(layout.uid_attribute, n) for n in names),
            ]
        )
        if names
        else None
    )
    by_anchor = any_of(layout.kind.anchor_equals(a) for a in anchors) if anchors else None
    return by_name, by_anchor


def read_ahead_found(
    layout: Layout,
    users: Sequence[tuple[DesiredIdentity, str | None]],
    by_name: Sequence[Entry],
    by_anchor: Sequence[Entry],
) -> dict[str, list[Entry]]:
    """The entries of :func:`read_ahead_filters`' searches where the applies look for them
    (:class:`connectors.ldap.batch.Batch`): every name asked for (an empty list: known to be
    absent),
    with the entries whose naming value equals it as the directory compares names (so
    ``Alice `` finds alice's entry, and its apply sees whose that is), every anchor found."""
    uid = layout.uid_attribute
    found: dict[str, list[Entry]] = {}
    named: dict[str, list[str]] = {}  # folded name → keys of the user IDs asked for
    for d, anchor in users:
        if not anchor:
            found[name_key(d.user_id)] = []
            named.setdefault(fold(d.user_id), []).append(name_key(d.user_id))
    for entry in by_name:
        keys = {k for value in entry.get(uid) for k in named.get(fold(value), ())}
        for k in keys:
            found[k].append(entry)
    for entry in by_anchor:
        found[anchor_key(entry.entry_uuid)] = [entry]
    return found


def read_ahead_entries(
    found: dict[str, list[Entry]], desired: DesiredIdentity, anchor: str | None
) -> list[Entry] | None:
    """The entries the read-ahead found for one user, as :meth:`Directory.find` would have:
    by its anchor, or by its name when it has none; None when the read-ahead cannot tell (the
    anchored entry is gone from where anchors are looked for: the apply then searches by name
    too)."""
    if anchor:
        return found.get(anchor_key(anchor))
    return found[name_key(desired.user_id)]


def added_anchors(
    session: Session, layout: Layout, added: Sequence[tuple[str, str]]
) -> dict[DnKey, str]:
    """The anchors of users just added, each given as (DN, user ID), by DN: for a directory
    that does not return the anchor with the add (AD), a search by user ID per
    :data:`LOOKUP_CHUNK` users instead of a read per user."""
    uid = layout.uid_attribute
    filters = [
        all_of(
            [
                equals("objectClass", layout.user_class),
                any_of(equals(uid, user_id) for _, user_id in added[start : start + LOOKUP_CHUNK]),
            ]
        )
        for start in range(0, len(added), LOOKUP_CHUNK)
    ]
    found = session.search_many(layout.base_dn, filters, [layout.kind.anchor_attribute])
    return {dn_key(entry.dn): entry.entry_uuid for entry in found}
