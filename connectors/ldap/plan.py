"""The LDAP target's decision: a desired user or group against the entry read, as changes.

Pure: :class:`LdapObserved` carries all it needs (the entry and how it was found, the DNs of the
manager and members the directory holds, or the refusal met on the way), and
:class:`connectors.ldap.mapping.Layout` says what the entry should look like and where it lives.
``apply`` (with or without the batch's read-ahead), ``reconcile --dry-run`` and the full
reconcile all decide here; :mod:`connectors.ldap.execute` then sends exactly these changes.

Values are compared exactly (a change of case in a name is written too), in any order; member
DNs that differ as strings are compared parsed and folded, as the directory compares them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from connectors.ldap.mapping import Layout
from connectors.ldap.names import DnKey, dn_key, is_within, parent_dn, parse_dn, same_dn
from connectors.ldap.responses import Entry
from reconcile.changes import Change, ChangeAction, change, refusal
from reconcile.errors import TargetError
from reconcile.mapping import MappingRenderError
from reconcile.model import Desired, DesiredGroup, DesiredIdentity, Tombstone

TARGET = "ldap"
Values = tuple[str, ...]
Diff = dict[str, tuple[object, object]]


@dataclass(frozen=True, slots=True)
class LdapObserved:
    entry: Entry | None
    adopted: bool = False
    """Found by name, not by the resource's own anchor: taking it over is a change too."""
    manager_dn: str | None = None
    """Users: the DN of the desired manager's entry, when the directory holds it."""
    member_dns: Mapping[str, str] = field(default_factory=dict)
    """Groups: scim_id → DN of each desired member the directory holds."""
    refused: TargetError | None = None


def plan(layout: Layout, desired: Desired, observed: LdapObserved) -> list[Change]:
    if observed.refused is not None:
        return [refusal(TARGET, desired, observed.refused)]
    entry = observed.entry
    if isinstance(desired, Tombstone):
        return [change(TARGET, desired, ChangeAction.DELETE, locator=entry.dn)] if entry else []
    try:
        if isinstance(desired, DesiredIdentity):
            return plan_user(layout, desired, observed)
        return plan_group(layout, desired, observed)
    except MappingRenderError as exc:  # this resource's values break a template: refused
        return [refusal(TARGET, desired, exc)]


def plan_user(layout: Layout, desired: DesiredIdentity, observed: LdapObserved) -> list[Change]:
    manager_attribute = layout.attributes.get("manager")
    values = layout.user_values(desired, observed.manager_dn)
    layout.kind.user_values(desired, values, observed.entry)
    waiting = None
    if manager_attribute and desired.manager_scim_id and observed.manager_dn is None:
        waiting = f"waiting for manager '{desired.manager_user_id}' to reach the directory"
        values.pop(manager_attribute)  # keep whatever is there until the manager arrives
    entry = observed.entry
    if layout.disable == "delete" and not desired.active:
        if entry is None:
            return []
        detail = "disabled in Entra, and SCIM_SYNC_LDAP_DISABLE=delete removes the entry"
        return [change(TARGET, desired, ChangeAction.DELETE, locator=entry.dn, detail=detail)]
    target_dn = layout.user_dn(desired, values)
    changes: list[Change] = []
    if entry is None:
        created: Diff = {a: ((), tuple(v)) for a, v in values.items() if v}
        changes.append(
            change(TARGET, desired, ChangeAction.CREATE, moved_to=target_dn, diff=created)
        )
    else:
        if observed.adopted:
            changes.append(change(TARGET, desired, ChangeAction.ADOPT, locator=entry.dn))
        current = entry.attributes
        if not same_dn(entry.dn, target_dn):
            action = _move_action(layout, desired, entry.dn, target_dn)
            changes.append(change(TARGET, desired, action, locator=entry.dn, moved_to=target_dn))
            current = observed_after_rename(entry, target_dn)
        delta = diff(current, values)
        flag = layout.state_attribute
        flip = delta.pop(flag, None) if flag else None
        if delta:
            changes.append(
                change(TARGET, desired, ChangeAction.UPDATE, locator=target_dn, diff=delta)
            )
        if flip is not None and flag:
            action = ChangeAction.ENABLE if desired.active else ChangeAction.DISABLE
            moving = [i for i, c in enumerate(changes) if c.action is action and c.moved_to]
            if moving:  # a move that disables (or enables) and the flag: one change
                moved = changes[moving[0]]
                changes[moving[0]] = replace(moved, diff={**moved.diff, flag: flip})
            else:
                changes.append(
                    change(TARGET, desired, action, locator=target_dn, diff={flag: flip})
                )
    if waiting:
        changes.append(change(TARGET, desired, ChangeAction.WAIT, detail=waiting))
    return changes


def _move_action(layout: Layout, desired: DesiredIdentity, old: str, new: str) -> ChangeAction:
    """A modify-DN in the user's terms: into or out of the disabled container is a disable or
    an enable, another container a move, the same one a rename."""
    if layout.disable == "move":
        was_disabled = is_within(old, layout.disabled_dn)
        if was_disabled and desired.active:
            return ChangeAction.ENABLE
        if not was_disabled and not desired.active:
            return ChangeAction.DISABLE
    return ChangeAction.RENAME if same_dn(parent_dn(old), parent_dn(new)) else ChangeAction.MOVE


def plan_group(layout: Layout, desired: DesiredGroup, observed: LdapObserved) -> list[Change]:
    """Like a user: the entry where the mapping places it (moved there when it is elsewhere),
    ``cn`` and the mapped attributes compared after the move, then the member deltas."""
    attribute = layout.member_attribute
    placeholder = layout.placeholder_member
    wanted = sorted(set(observed.member_dns.values()))
    values = layout.group_values(desired)
    layout.kind.group_values(desired, values, observed.entry)
    target_dn = layout.group_dn(values["cn"][0], layout.group_container(desired))
    entry = observed.entry
    changes: list[Change] = []
    if entry is None:
        created: Diff = {a: ((), tuple(v)) for a, v in values.items() if v}
        members = tuple(wanted or ([placeholder] if placeholder else []))
        if members:
            created[attribute] = ((), members)
        changes.append(
            change(TARGET, desired, ChangeAction.CREATE, moved_to=target_dn, diff=created)
        )
    else:
        if observed.adopted:
            changes.append(change(TARGET, desired, ChangeAction.ADOPT, locator=entry.dn))
        current = entry.attributes
        if not same_dn(entry.dn, target_dn):
            action = (
                ChangeAction.RENAME
                if same_dn(parent_dn(entry.dn), parent_dn(target_dn))
                else ChangeAction.MOVE
            )
            changes.append(change(TARGET, desired, action, locator=entry.dn, moved_to=target_dn))
            current = observed_after_rename(entry, target_dn)
        if delta := diff(current, values):  # cn too: a change of case or spacing only
            changes.append(
                change(TARGET, desired, ChangeAction.UPDATE, locator=target_dn, diff=delta)
            )
        to_add, to_remove = member_delta(entry.get(attribute), wanted, placeholder)
        if to_add:
            changes.append(_members(desired, ChangeAction.MEMBER_ADD, target_dn, to_add))
        if to_remove:
            changes.append(_members(desired, ChangeAction.MEMBER_REMOVE, target_dn, to_remove))
    missing = sorted(m.user_id for m in desired.members if m.scim_id not in observed.member_dns)
    if missing:
        shown = ", ".join(missing[:5])
        reason = f"waiting for {len(missing)} member(s) not yet in the directory: {shown}"
        changes.append(change(TARGET, desired, ChangeAction.WAIT, detail=reason))
    return changes


def member_delta(
    values: Sequence[str], wanted: Sequence[str], placeholder: str
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The member values to add and to remove, keeping the group valid: the placeholder goes
    (first among the removals) when a real member arrives, and comes (alone among the
    additions) when the last one leaves.

    Values equal as strings are the same member: the server hands back the DNs it was given,
    so only the few that differ as strings are parsed and folded (:func:`dn_key`) to be
    compared; parsing every DN of a 5,000-member group cost more than the LDAP round trips."""
    exact_current, exact_wanted = set(values), set(wanted)
    current: dict[DnKey, str] = {dn_key(v): v for v in values if v not in exact_wanted}
    others: dict[DnKey, str] = {dn_key(v): v for v in wanted if v not in exact_current}
    placeholder_key = dn_key(placeholder)
    held_placeholder = current.pop(placeholder_key, None)
    to_add = [v for k, v in others.items() if k not in current]
    to_remove = [v for k, v in current.items() if k not in others]
    if wanted and held_placeholder is not None:
        to_remove.insert(0, held_placeholder)
    if placeholder and not wanted and to_remove and held_placeholder is None:
        to_add.append(placeholder)
    return tuple(to_add), tuple(to_remove)


def observed_after_rename(entry: Entry, target_dn: str) -> dict[str, list[str]]:
    """The attributes as the server holds them after a modify-DN that dropped the old RDN."""
    observed = dict(entry.attributes)
    old = parse_dn(entry.dn)[0]
    new = parse_dn(target_dn)[0]
    for attribute, value in old:
        key = attribute.lower()
        observed[key] = [v for v in observed.get(key, []) if v.casefold() != value.casefold()]
    for attribute, value in new:
        key = attribute.lower()
        if value.casefold() not in (v.casefold() for v in observed.get(key, [])):
            observed[key] = [*observed.get(key, []), value]
    return observed


def diff(observed: Mapping[str, list[str]], wanted: Mapping[str, list[str]]) -> Diff:
    """attribute → (held, wanted) for each managed attribute whose values differ (in any
    order); wanted ``()`` means the attribute goes."""
    changes: Diff = {}
    for attribute, values in wanted.items():
        current = observed.get(attribute.lower(), [])
        if current == values or sorted(current) == sorted(values):
            continue
        changes[attribute] = (tuple(current), tuple(values))
    return changes


def _members(
    desired: DesiredGroup, action: ChangeAction, dn: str, members: tuple[str, ...]
) -> Change:
    return change(TARGET, desired, action, locator=dn, members=members)
