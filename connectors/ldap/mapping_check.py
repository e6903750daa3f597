"""The LDAP part of a mapping, checked against the layout and the directory's schema.

Run at start (with the static schema: settings are checked without connecting anywhere) and
by ``scim-sync mapping check`` (with the server's subschema when it answers). Refused: the
attributes scim-sync itself owns on an entry (the key, ``objectClass``, the members, the
disable flag), a template for ``manager`` (its value is the manager's DN, resolved by the
target), a required attribute left unmanaged, a name the object classes do not allow, and a
placement DN that is not a DN or lies outside the managed subtree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from connectors.ldap.mapping import Layout
from connectors.ldap.names import DnSyntaxError, is_within, parse_dn
from connectors.ldap.schema import DirectorySchema
from reconcile.mapping import KindMapping, MappingProblem


@dataclass(frozen=True)
class _Kind:
    mapping: KindMapping
    classes: tuple[str, ...]
    owned: dict[str, str]
    """folded attribute → why scim-sync owns it"""
    subtree: str
    outside: tuple[str, ...] = ()
    """Subtrees inside ``subtree`` a rule may not place entries in."""


def _kinds(layout: Layout) -> list[_Kind]:
    out = []
    users = layout.user_mapping
    if users is not None:
        owned = {
            layout.uid_attribute.casefold(): "the key scim-sync finds users by (user_id)",
            "objectclass": "set from SCIM_SYNC_LDAP_USER_OBJECT_CLASSES",
        }
        if layout.disable == "attribute":
            owned[layout.disabled_attribute[0].casefold()] = "the disable flag"
        outside = (layout.disabled_dn,) if is_within(layout.disabled_dn, layout.users_dn) else ()
        out.append(_Kind(users, layout.user_object_classes, owned, layout.users_dn, outside))
    groups = layout.group_mapping
    if groups is not None:
        owned = {
            "cn": "the group's displayName, which names its entry",
            layout.member_attribute.casefold(): "the group's members",
            "objectclass": "set from SCIM_SYNC_LDAP_GROUP_OBJECT_CLASS",
        }
        name = layout.kind.group_name_attribute
        owned.setdefault(name.casefold(), "the group's whole displayName, which finds its entry")
        out.append(_Kind(groups, (layout.group_object_class,), owned, layout.groups_dn))
    return out


def check_ldap_mapping(
    layout: Layout, file: str, schema: DirectorySchema
) -> tuple[list[MappingProblem], list[str]]:
    """The problems of the layout's mapping, and notes on what could not be checked."""
    problems: list[MappingProblem] = []
    notes: list[str] = []
    for kind in _kinds(layout):
        table = f"mapping.ldap.{kind.mapping.kind}"
        unknown = schema.unknown_classes(kind.classes)
        if unknown:
            notes.append(
                f"[{table}] attribute names not checked: the {schema.origin} schema does not "
                f"know the object class(es) {', '.join(unknown)}"
            )
        allowed = None if unknown else schema.allowed(kind.classes)
        required = schema.required(kind.classes)
        for key, message in _attribute_problems(kind, allowed, required, schema.origin):
            problems.append(MappingProblem(file, f"{table}.attributes", key, message))
        for index, dn in _placements(kind.mapping):
            refused = _placement_problem(kind, dn)
            if refused:
                problems.append(MappingProblem(file, f"{table}.placement[{index}]", "dn", refused))
    return problems, notes


def _attribute_problems(
    kind: _Kind, allowed: frozenset[str] | None, required: frozenset[str], origin: str
) -> list[tuple[str, str]]:
    out = []
    classes = " ".join(kind.classes)
    for key in (*kind.mapping.keys, *kind.mapping.unmanaged):
        folded = key.casefold()
        if folded in kind.owned:
            out.append((key, f"'{key}' is {kind.owned[folded]}; a mapping cannot set it"))
        elif folded == "manager" and key in kind.mapping.keys:
            out.append(
                (
                    key,
                    "'manager' holds the manager's DN, resolved by scim-sync; it can only be "
                    'left unmanaged ("")',
                )
            )
        elif key in kind.mapping.unmanaged and folded in required:
            out.append((key, f"'{key}' is required by {classes}; it cannot be left unmanaged"))
        elif allowed is not None and key in kind.mapping.keys and folded not in allowed:
            out.append((key, f"'{key}' is not an attribute of {classes} (schema: {origin})"))
    return out


def _placements(mapping: KindMapping) -> Sequence[tuple[int, str]]:
    return [(rule.index, rule.dn) for rule in mapping.placement]


def _placement_problem(kind: _Kind, dn: str) -> str | None:
    try:
        parse_dn(dn)
    except DnSyntaxError as exc:
        return f"not a DN: {exc}"
    if not is_within(dn, kind.subtree):
        return f"'{dn}' is outside the managed subtree '{kind.subtree}'"
    for other in kind.outside:
        if is_within(dn, other):
            return f"'{dn}' is inside '{other}', where disabled users go"
    return None
