"""Objects another sync engine manages, which scim-sync must leave alone.

Entra Connect (and Cloud Sync) mark the AD objects they synchronise, for example with
``mS-DS-ConsistencyGuid`` as the source anchor. An object so marked belongs to that engine: two
engines writing one object fight for ever, each undoing the other's changes. The attributes that
mark such objects are a setting (``SCIM_SYNC_LDAP_FOREIGN_OWNER_ATTRIBUTES``); an object holding
any of them with a value is refused with a dead letter that says what to do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from reconcile.errors import PermanentTargetError

DEFAULT_ATTRIBUTES = ("mS-DS-ConsistencyGuid",)


class ForeignOwnerError(PermanentTargetError):
    """The object carries a marker of another sync engine."""


def parse_attributes(text: str) -> tuple[str, ...]:
    """The setting's attribute names (spaces or commas between them)."""
    return tuple(dict.fromkeys(text.replace(",", " ").split()))


def marker(attributes: Mapping[str, Sequence[object] | None], markers: Sequence[str]) -> str | None:
    """The first of ``markers`` the entry holds a non-empty value of (attribute names compare
    without regard to case, as LDAP's do); None when no other engine claims it."""
    present = {name.lower(): values for name, values in attributes.items()}
    for name in markers:
        values = present.get(name.lower())
        if values and any(v not in (b"", "", None) for v in values):
            return name
    return None


def refuse_foreign(
    dn: str, attributes: Mapping[str, Sequence[object] | None], markers: Sequence[str]
) -> None:
    """Raise :class:`ForeignOwnerError` if another sync engine marks the object at ``dn``."""
    found = marker(attributes, markers)
    if found is not None:
        raise ForeignOwnerError(
            f"'{dn}' has {found} set, which marks an object another sync engine (such as "
            "Entra Connect) manages; scim-sync leaves it alone. Stop managing it there and "
            f"clear {found}, or remove {found} from SCIM_SYNC_LDAP_FOREIGN_OWNER_ATTRIBUTES"
        )
