"""The directory kind: what differs between an OpenLDAP-style directory and Active Directory.

The planner (:mod:`connectors.ldap.plan`), the lookups (:mod:`connectors.ldap.directory`) and the
writes (:mod:`connectors.ldap.execute`) are one code path for every LDAP directory. The few places
where AD is not "LDAP with other attribute names" go through a :class:`DirectoryKind`, chosen once
from ``SCIM_SYNC_LDAP_DIRECTORY`` and carried by :class:`connectors.ldap.mapping.Layout`:

- the anchor: ``entryUUID`` (text) or AD's ``objectGUID`` (16 bytes, searched hex-escaped), and
  whether the server reads it back in the add (Post-Read) and guards modifies (Assertion);
- the values the kind adds to a user or a group (AD: ``userAccountControl``,
  ``userPrincipalName``, a CN cut to AD's 64 characters, and a CN that got a clash suffix at its
  add, which stays), and the attribute a group is found by when it has no anchor yet (AD:
  ``displayName``, since its CN may be cut or suffixed);
- what only a write can decide, because it reads the domain (AD: the ``sAMAccountName`` free in
  the domain, a first password) and checks done right before a write (AD: a UPN another holds);
- objects the kind refuses to manage (AD: those another sync engine marks);
- how memberships are read (AD: in ranges, followed to the last one).

:class:`OpenLdap` is the plain LDAP behaviour every other part assumed before the seam; AD's
implementation lives in :mod:`connectors.ldap.active_directory.kind`.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from typing import Protocol

from connectors.ldap.ber import ASSERTION, POST_READ, attribute_selection, equals
from connectors.ldap.errors import classify
from connectors.ldap.names import escape_filter_value
from connectors.ldap.requests import Control
from connectors.ldap.responses import Entry
from connectors.ldap.session import Session
from reconcile.errors import TargetError
from reconcile.model import Desired, DesiredGroup, DesiredIdentity

AddValues = dict[str, list[str | bytes]]


class DirectoryKind(Protocol):
    name: str
    anchor_attribute: str
    """The attribute whose value is the anchor the ledger keeps."""
    adds_ahead: bool
    """Whether the batch may send a create's add as it was planned (no :meth:`prepare_add`);
    otherwise it asks :meth:`prepare_adds` to complete many at once before sending them."""
    user_attributes: tuple[str, ...]
    """Attributes read on a user besides the mapped ones (the kind's own, markers)."""
    group_attributes: tuple[str, ...]
    """Attributes read on a group besides ``cn`` and its members."""
    group_name_attribute: str
    """The attribute holding a group's whole display name, which finds a group without an
    anchor (``cn``, or, where the CN may be cut, one that holds the name uncut)."""

    def anchor_filter(self, anchor: str) -> str:
        """An equality filter finding the entry that holds ``anchor``."""

    def anchor_equals(self, anchor: str) -> bytes:
        """The same filter, BER-encoded (the batch's read-ahead)."""

    def classify(self, exc: BaseException) -> TargetError:
        """The reconciler's error for a failure talking to the directory (AD: its extended
        error code read from ``diagnosticMessage`` and said in plain words)."""

    def add_controls(self) -> tuple[Control, ...]:
        """Controls of an add, e.g. reading the anchor back in the same round trip."""

    def guard(self, anchor: str | None) -> tuple[Control, ...]:
        """Controls that make a modify fail if the entry is no longer the one read."""

    def user_values(
        self, desired: DesiredIdentity, values: MutableMapping[str, list[str]], entry: Entry | None
    ) -> None:
        """Complete a user's managed values (in place) with what the kind owns."""

    def group_values(
        self, desired: DesiredGroup, values: MutableMapping[str, list[str]], entry: Entry | None
    ) -> None:
        """Complete a group's values (in place) with what the kind owns."""

    def refusal(self, entry: Entry) -> TargetError | None:
        """Why the kind will not manage ``entry`` (None when it may)."""

    def members_read_as(self, attribute: str) -> str:
        """How the member attribute is asked for in searches (AD: as a range)."""

    def complete(self, session: Session, entries: Sequence[Entry]) -> list[Entry]:
        """The entries as read, with what the first answer left out read too (AD: the rest
        of a ranged membership)."""

    def prepare_add(
        self, session: Session, desired: Desired, dn: str, values: AddValues
    ) -> tuple[str, AddValues]:
        """The DN and values of an add, completed with what only the domain can decide."""

    def prepare_adds(
        self, session: Session, adds: Sequence[tuple[Desired, str, AddValues]]
    ) -> list[AddValues | None]:
        """Many adds at their planned DNs completed at once, in a few round trips; None for
        each that must be added by its own apply instead (:meth:`prepare_add`)."""

    def before_modify(
        self, session: Session, desired: Desired, dn: str, changed: Mapping[str, Sequence[str]]
    ) -> None:
        """Checks right before a modify of ``changed`` (raise to refuse it)."""


class OpenLdap:
    """Plain LDAP (OpenLDAP and the like): ``entryUUID`` anchors, read back with Post-Read,
    modifies guarded by an Assertion, nothing added to the mapped values."""

    name = "openldap"
    anchor_attribute = "entryUUID"
    adds_ahead = True
    user_attributes: tuple[str, ...] = ()
    group_attributes: tuple[str, ...] = ()
    group_name_attribute = "cn"

    def anchor_filter(self, anchor: str) -> str:
        return f"(entryUUID={escape_filter_value(anchor)})"

    def anchor_equals(self, anchor: str) -> bytes:
        return equals("entryUUID", anchor)

    def classify(self, exc: BaseException) -> TargetError:
        return classify(exc)

    def add_controls(self) -> tuple[Control, ...]:
        return ((POST_READ, False, attribute_selection(["entryUUID"])),)

    def guard(self, anchor: str | None) -> tuple[Control, ...]:
        return ((ASSERTION, True, equals("entryUUID", anchor)),) if anchor else ()

    def user_values(
        self, desired: DesiredIdentity, values: MutableMapping[str, list[str]], entry: Entry | None
    ) -> None:
        return None

    def group_values(
        self, desired: DesiredGroup, values: MutableMapping[str, list[str]], entry: Entry | None
    ) -> None:
        return None

    def refusal(self, entry: Entry) -> TargetError | None:
        return None

    def members_read_as(self, attribute: str) -> str:
        return attribute

    def complete(self, session: Session, entries: Sequence[Entry]) -> list[Entry]:
        return list(entries)

    def prepare_add(
        self, session: Session, desired: Desired, dn: str, values: AddValues
    ) -> tuple[str, AddValues]:
        return dn, values

    def prepare_adds(
        self, session: Session, adds: Sequence[tuple[Desired, str, AddValues]]
    ) -> list[AddValues | None]:
        return [values for _, _, values in adds]

    def before_modify(
        self, session: Session, desired: Desired, dn: str, changed: Mapping[str, Sequence[str]]
    ) -> None:
        return None


OPENLDAP = OpenLdap()
