"""What a declarative mapping adds to an Identity Manager record: extra attributes.

The store's columns stay what they are (the seed's rules decide them); a mapping for
``identity_store`` only adds named values beside them, kept in the record's JSON column of
extra attributes. A key that names a column, or placement (the store has no places), is
refused when the mapping is checked.
"""

from __future__ import annotations

from connectors.identity_store.fields import GROUP_FIELDS, IDENTITY_FIELDS
from reconcile.mapping import MappingProblem, TargetMapping
from reconcile.model import DesiredGroup, DesiredIdentity

Extras = dict[str, str | list[str]]
"""Extra attribute → its value (one template) or values (a list of templates, or ``each``)."""

RESERVED = {
    "user": frozenset(
        {*IDENTITY_FIELDS, "user_id", "scim_id", "created_at", "updated_at", "groups"}
    ),
    "group": frozenset({*GROUP_FIELDS, "scim_id", "created_at", "updated_at", "members"}),
}
"""Names a record already has (columns, and what ``identities get`` shows beside them)."""


def extra_attributes(
    mapping: TargetMapping | None, desired: DesiredIdentity | DesiredGroup
) -> Extras:
    """The extra attributes ``mapping`` gives ``desired``; empty without a mapping for its
    kind. A template rendering empty leaves its attribute out. Raises
    :class:`reconcile.mapping.MappingRenderError` when a template fails for this resource."""
    kind = (
        mapping.kind("user" if isinstance(desired, DesiredIdentity) else "group")
        if mapping
        else None
    )
    if kind is None:
        return {}
    several = kind.multi_valued
    out: Extras = {}
    for key, values in kind.render(desired).items():
        if key in several:
            if values:
                out[key] = values
        elif values:
            out[key] = values[0]
    return out


def check_identity_store_mapping(mapping: TargetMapping, file: str) -> list[MappingProblem]:
    problems = []
    for kind_name in ("user", "group"):
        kind = mapping.kind(kind_name)
        if kind is None:
            continue
        table = f"mapping.identity_store.{kind_name}"
        for key in (*kind.keys, *kind.unmanaged):
            if key.casefold() in RESERVED[kind_name]:
                problems.append(
                    MappingProblem(
                        file,
                        f"{table}.attributes",
                        key,
                        f"'{key}' is a column of the Identity Manager store, set by scim-sync; "
                        "a mapping only adds extra attributes",
                    )
                )
        if kind.placement:
            problems.append(
                MappingProblem(
                    file, f"{table}.placement", "", "the Identity Manager store has no placement"
                )
            )
    return problems
