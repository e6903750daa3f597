"""The names a new AD object takes, checked against the domain before its add.

A new object needs a ``sAMAccountName`` unique in the domain (users and groups together), a CN
unique in its container and, for a user, a ``userPrincipalName`` no other object holds. One
search with equality filters only (the ones a DC indexes) finds whatever holds any of them:

- for one object (an apply), a clash is settled here: a taken sAMAccountName or CN gets the
  first free suffix (two more searches, only then), a taken UPN is a dead letter naming its
  holder (:func:`free_names`);
- for many objects at once (a batch sending its creates ahead), the same kind of search covers
  them all, and an object whose names are taken, or wanted by another object of the batch, is
  left out, for its own apply to settle as above (:func:`all_free`).

Names are compared as AD compares them, ignoring case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from connectors.ldap.active_directory import account_names, common_names
from connectors.ldap.names import (
    dn_key,
    escape_filter_value,
    first_value,
    parent_dn,
    same_dn,
)
from connectors.ldap.responses import Entry
from connectors.ldap.session import Session
from reconcile.errors import PermanentTargetError
from reconcile.model import Desired

SAM = "sAMAccountName"
UPN = "userPrincipalName"
SEARCH_CHUNK = 50
"""New objects per search when many are checked at once: short OR-filters."""


@dataclass(frozen=True, slots=True)
class Wanted:
    """The names a new object would take if nothing held them."""

    sam: str
    dn: str
    upn: str

    @classmethod
    def of(cls, source: str, dn: str, upn: str) -> Wanted:
        """``source`` is what the sAMAccountName is made from (a userName, a group's name)."""
        return cls(account_names.default_name(source), dn, upn)

    @property
    def cn(self) -> str:
        return first_value(self.dn)

    def terms(self) -> str:
        """Equality filters finding every object that holds one of these names."""
        terms = f"({SAM}={escape_filter_value(self.sam)})(cn={escape_filter_value(self.cn)})"
        if self.upn:
            terms += f"({UPN}={escape_filter_value(self.upn)})"
        return terms

    def upn_holder(self, found: Sequence[Entry]) -> str | None:
        return next((e.dn for e in found if self.upn and _folded_in(self.upn, e.get(UPN))), None)

    def sam_taken(self, found: Sequence[Entry]) -> bool:
        return any(_folded_in(self.sam, e.get(SAM)) for e in found)

    def cn_taken(self, found: Sequence[Entry]) -> bool:
        container, name = parent_dn(self.dn), self.cn.casefold()
        return any(rdn_key(e.dn) == name and same_dn(parent_dn(e.dn), container) for e in found)

    def keys(self) -> set[tuple[object, ...]]:
        """What no two objects of one batch may share."""
        keys: set[tuple[object, ...]] = {
            ("sam", self.sam.casefold()),
            ("cn", dn_key(parent_dn(self.dn)), self.cn.casefold()),
        }
        if self.upn:
            keys.add(("upn", self.upn.casefold()))
        return keys


def free_names(
    session: Session, domain_dn: str, desired: Desired, wanted: Wanted
) -> tuple[str, str]:
    """The sAMAccountName and DN of one new object, after refusing a UPN another object holds."""
    found = session.search(domain_dn, f"(|{wanted.terms()})", [SAM, UPN])
    holder = wanted.upn_holder(found)
    if holder is not None:
        raise upn_taken(wanted.upn, holder, desired)
    sam = wanted.sam
    if wanted.sam_taken(found):
        sam = _free_account_name(session, domain_dn, wanted.sam)
    if not wanted.cn_taken(found):
        return sam, wanted.dn
    return sam, _free_cn(session, wanted.dn, sam)


def all_free(session: Session, domain_dn: str, objects: Sequence[Wanted]) -> list[bool]:
    """For each new object, whether all its names are free in the domain and wanted by no
    object before it in ``objects``: a few searches for all of them."""
    filters = [
        f"(|{''.join(w.terms() for w in objects[start : start + SEARCH_CHUNK])})"
        for start in range(0, len(objects), SEARCH_CHUNK)
    ]
    found = session.search_many(domain_dn, filters, [SAM, UPN]) if filters else []
    claimed: set[tuple[object, ...]] = set()
    free = []
    for wanted in objects:
        keys = wanted.keys()
        clear = not (
            keys & claimed
            or wanted.upn_holder(found) is not None
            or wanted.sam_taken(found)
            or wanted.cn_taken(found)
        )
        claimed |= keys
        free.append(clear)
    return free


def refuse_taken_upn(session: Session, domain_dn: str, upn: str, dn: str, desired: Desired) -> None:
    found = session.search(domain_dn, f"({UPN}={escape_filter_value(upn)})", ["1.1"])
    others = [e.dn for e in found if e.dn.casefold() != dn.casefold()]
    if others:
        raise upn_taken(upn, others[0], desired)


def upn_taken(upn: str, holder: str, desired: Desired) -> PermanentTargetError:
    return PermanentTargetError(
        f"the userPrincipalName '{upn}' of '{desired.scim_id}' is already held by '{holder}'; "
        "AD allows one object per UPN: change the work email in Entra, or clear it on that object"
    )


def _free_account_name(session: Session, domain_dn: str, base: str) -> str:
    prefix = base[: account_names.MAX_LENGTH - 4]
    found = session.search(domain_dn, f"({SAM}={escape_filter_value(prefix)}*)", [SAM])
    taken = account_names.taken_among(v for e in found for v in e.get(SAM))
    return account_names.choose(base, taken)


def _free_cn(session: Session, dn: str, sam: str) -> str:
    container = parent_dn(dn)
    name = first_value(dn)
    found = session.search(container, f"(cn={escape_filter_value(name)}*)", ["1.1"])
    held = {rdn_key(e.dn) for e in found if same_dn(parent_dn(e.dn), container)}
    return common_names.choose(name, sam, container, lambda candidate: rdn_key(candidate) in held)


def _folded_in(value: str, values: Sequence[str]) -> bool:
    """Whether ``value`` is among ``values`` as AD compares names (ignoring case)."""
    return value.casefold() in (v.casefold() for v in values)


def rdn_key(dn: str) -> str:
    """A DN's first RDN value, folded: how CNs in one container clash."""
    return first_value(dn).casefold()
