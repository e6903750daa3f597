"""Active Directory as a :class:`connectors.ldap.kinds.DirectoryKind` of the LDAP target.

The planner stays the LDAP target's own; this kind adds what AD needs on top, using the rules of
this package: the ``objectGUID`` anchor, ``userAccountControl`` (only ACCOUNTDISABLE is ours),
``userPrincipalName`` from the work email, ``employeeID`` when the userName fits, a CN cleaned
and cut for AD (users and groups alike; a group keeps its whole name in ``displayName``, which
finds it when it has no anchor yet), and at the add (which reads the domain, so the plan
cannot decide it) the ``sAMAccountName`` free in the domain, a CN free in the container, the
first password and the group type. Objects another sync engine marks are refused before any plan.

AD's servers do not all honour the Post-Read and Assertion controls, so the anchor of a new
object is read back with a search (the batch reads those of many new users in one), and
modifies are not guarded: a moved object is found again by its GUID on the next apply. The
names of a new object are checked in :mod:`connectors.ldap.active_directory.new_names`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from itertools import islice

from connectors.ldap.active_directory import account_control, common_names, ranged
from connectors.ldap.active_directory.anchors import (
    GUID_ATTRIBUTE,
    AnchorError,
    guid_filter,
    guid_from_anchor,
)
from connectors.ldap.active_directory.errors import classify as classify_ad
from connectors.ldap.active_directory.foreign_owners import ForeignOwnerError, refuse_foreign
from connectors.ldap.active_directory.group_types import group_type
from connectors.ldap.active_directory.new_names import (
    Wanted,
    all_free,
    free_names,
    refuse_taken_upn,
)
from connectors.ldap.active_directory.passwords import (
    POLICY_ATTRIBUTES,
    NewPassword,
    PasswordPolicy,
    generate,
    password_attributes,
    require_encrypted,
)
from connectors.ldap.ber import equals
from connectors.ldap.kinds import AddValues
from connectors.ldap.names import (
    first_value,
    parse_dn,
    rdn,
)
from connectors.ldap.requests import Control
from connectors.ldap.responses import Entry
from connectors.ldap.session import Session
from reconcile.errors import TargetError
from reconcile.model import Desired, DesiredGroup, DesiredIdentity

log = logging.getLogger(__name__)

UAC = "userAccountControl"
SAM = "sAMAccountName"
DISPLAY_NAME = "displayName"
UPN = "userPrincipalName"
EMPLOYEE_ID = "employeeID"
EMPLOYEE_ID_MAX = 16
"""``employeeID``'s schema range: a longer userName is not written there."""
CN_KEPT_TRIES = 50
"""How many clash suffixes a held CN is compared with before the plan renames it back."""
NOTHING = "(!(objectClass=*))"
AD_USER_CLASSES = ("user", "organizationalPerson", "person", "top")
"""``user`` first: the first class is the one searches filter users by."""

PasswordHandover = Callable[[DesiredIdentity, str, str, NewPassword], None]
"""Hands a first password over (to the sink): the user, its DN, its sAMAccountName, the password."""


class ActiveDirectory:
    name = "active_directory"
    anchor_attribute = GUID_ATTRIBUTE
    adds_ahead = False
    group_name_attribute = DISPLAY_NAME

    def __init__(
        self,
        *,
        base_dn: str,
        markers: Sequence[str],
        must_change_password: bool = True,
        group_scope: str = "global",
        group_kind: str = "security",
        where: str = "the directory",
        handover: PasswordHandover | None = None,
        member_step: int | None = None,
    ) -> None:
        """``member_step`` asks for ranges of that many members after a first answer that was
        cut (None: as many as the server gives; tests ask for small ranges)."""
        self.base_dn = base_dn
        self.domain_dn = domain_of(base_dn)
        self.markers = tuple(markers)
        self.must_change_password = must_change_password
        self.group_type = str(group_type(group_scope, group_kind))
        self.where = where
        self.handover = handover
        self.member_step = member_step
        self.user_attributes = (UAC, SAM, UPN, EMPLOYEE_ID, *self.markers)
        self.group_attributes = (SAM, DISPLAY_NAME, *self.markers)
        self._policy: PasswordPolicy | None = None
        self._lock = threading.Lock()

    # ---- anchors ---------------------------------------------------------------------------

    def anchor_filter(self, anchor: str) -> str:
        try:
            return guid_filter(anchor)
        except AnchorError:
            return NOTHING  # an anchor from another directory kind names no AD object

    def anchor_equals(self, anchor: str) -> bytes:
        try:
            return equals(GUID_ATTRIBUTE, guid_from_anchor(anchor))
        except AnchorError:
            return equals(GUID_ATTRIBUTE, b"")  # names no object

    def classify(self, exc: BaseException) -> TargetError:
        return classify_ad(exc)

    def add_controls(self) -> tuple[Control, ...]:
        return ()

    def guard(self, anchor: str | None) -> tuple[Control, ...]:
        return ()

    # ---- the plan ----------------------------------------------------------------------------

    def user_values(
        self, desired: DesiredIdentity, values: MutableMapping[str, list[str]], entry: Entry | None
    ) -> None:
        """AD's own values: a cleaned CN, the UPN, ``employeeID`` when it fits, and
        ``userAccountControl`` with only ACCOUNTDISABLE decided here (the other bits as read)."""
        for attribute, mapped in list(values.items()):
            if attribute.lower() == "cn" and mapped:
                values[attribute] = [
                    _kept_cn(common_names.clean(mapped[0], desired.user_id), entry)
                ]
        values[UPN] = [desired.email] if desired.email else []
        if len(desired.user_id) <= EMPLOYEE_ID_MAX:
            values[EMPLOYEE_ID] = [desired.user_id]
        held_flags = entry.get(UAC) if entry is not None else []
        if held_flags:
            flags = account_control.parse(held_flags[0])
            wanted = account_control.with_enabled(flags, desired.active)
            values[UAC] = list(held_flags) if wanted == flags else [str(wanted)]
        else:
            values[UAC] = [str(account_control.for_new_account(desired.active))]

    def group_values(
        self, desired: DesiredGroup, values: MutableMapping[str, list[str]], entry: Entry | None
    ) -> None:
        """The CN cleaned and cut to 64 characters like a user's (a clash suffix got at the add
        stays), and the whole display name in ``displayName``: the CN of a long name is cut, or
        suffixed when two long names share their first 64 characters, so only ``displayName``
        finds the group again by name."""
        values["cn"] = [_kept_cn(common_names.clean(desired.display_name, desired.scim_id), entry)]
        values[DISPLAY_NAME] = [desired.display_name]

    def members_read_as(self, attribute: str) -> str:
        """Always as a range: Windows splits large memberships (1,500 values per answer) and
        Samba only when asked, so asking keeps one path, exercised by the tests on Samba."""
        last = "*" if self.member_step is None else str(self.member_step - 1)
        return f"{attribute};range=0-{last}"

    def complete(self, session: Session, entries: Sequence[Entry]) -> list[Entry]:
        return [self._all_members(session, entry) for entry in entries]

    def _all_members(self, session: Session, entry: Entry) -> Entry:
        ranges = [key for key in entry.attributes if ";range=" in key]
        if not ranges:
            return entry
        attributes = {k: v for k, v in entry.attributes.items() if k not in ranges}

        def fetch(dn: str, spec: str) -> dict[str, list[str]]:
            found = session.read(dn, [spec])
            return found.attributes if found is not None else {}

        for key in ranges:
            name = key.split(";", 1)[0]
            if key.endswith("-*") and key.startswith(f"{name};range=0-"):
                attributes[name] = entry.attributes[key]  # all of it in the first answer
                continue

            attributes[name] = ranged.read_values(fetch, entry.dn, name, self.member_step)
        return Entry(entry.dn, attributes)

    def refusal(self, entry: Entry) -> TargetError | None:
        try:
            refuse_foreign(entry.dn, entry.attributes, self.markers)
        except ForeignOwnerError as exc:
            return exc
        return None

    # ---- the writes --------------------------------------------------------------------------

    def prepare_add(
        self, session: Session, desired: Desired, dn: str, values: AddValues
    ) -> tuple[str, AddValues]:
        """The sAMAccountName free in the domain, a CN free in the container, and for a user
        its UPN checked and a first password; for a group its type."""
        out: AddValues = dict(values)
        if isinstance(desired, DesiredIdentity):
            wanted = Wanted.of(desired.user_id, dn, _upn(out))
            sam, dn = free_names(session, self.domain_dn, desired, wanted)
            require_encrypted(session.socket, self.where)
            password = self._with_password(out, self._domain_policy(session), desired, sam)
            if self.handover is not None:
                self.handover(desired, dn, sam, password)
        elif isinstance(desired, DesiredGroup):
            wanted = Wanted.of(desired.display_name, dn, "")
            sam, dn = free_names(session, self.domain_dn, desired, wanted)
            out[SAM] = [sam]
            out["groupType"] = [self.group_type]
        for attribute in [a for a in out if a.lower() == "cn"]:
            out[attribute] = [first_value(dn)]  # with the clash suffix, if the add got one
        return dn, out

    def prepare_adds(
        self, session: Session, adds: Sequence[tuple[Desired, str, AddValues]]
    ) -> list[AddValues | None]:
        """Many users' adds completed at once, for a batch to send together: a search per
        fifty checks their names (:func:`new_names.all_free`), and each user whose names are
        all free gets its sAMAccountName and first password; None for the others (a name
        taken, a group), which their own applies add. With a password sink every add goes
        alone: the handover must come before each add, and one thread handing a whole batch
        over to a webhook would hold the batch up."""
        out: list[AddValues | None] = [None] * len(adds)
        users = [
            (i, desired, Wanted.of(desired.user_id, dn, _upn(values)))
            for i, (desired, dn, values) in enumerate(adds)
            if isinstance(desired, DesiredIdentity)
        ]
        if self.handover is not None or not users:
            return out
        require_encrypted(session.socket, self.where)
        policy = self._domain_policy(session)
        free = all_free(session, self.domain_dn, [wanted for _, _, wanted in users])
        for (i, desired, wanted), clear in zip(users, free, strict=True):
            if clear:
                completed: AddValues = dict(adds[i][2])
                self._with_password(completed, policy, desired, wanted.sam)
                out[i] = completed
        return out

    def _with_password(
        self, values: AddValues, policy: PasswordPolicy, desired: DesiredIdentity, sam: str
    ) -> NewPassword:
        """A new account's sAMAccountName and a first password generated for it, into
        ``values``; the password is returned for the handover."""
        values[SAM] = [sam]
        password = generate(policy, sam, desired.display_name or "")
        for attribute, secret in password_attributes(password, self.must_change_password).items():
            values[attribute] = list(secret)
        return password

    def before_modify(
        self, session: Session, desired: Desired, dn: str, changed: Mapping[str, Sequence[str]]
    ) -> None:
        for attribute, values in changed.items():
            if attribute.lower() == UPN.lower() and values:
                refuse_taken_upn(session, self.domain_dn, str(values[0]), dn, desired)

    def _domain_policy(self, session: Session) -> PasswordPolicy:
        """The domain's password policy, read once per process (it changes rarely, and a
        refusal of a password is a dead letter that says so)."""
        with self._lock:
            if self._policy is None:
                entry = session.read(self.domain_dn, list(POLICY_ATTRIBUTES))
                self._policy = PasswordPolicy.from_domain(entry.attributes if entry else {})
            return self._policy


def _kept_cn(wanted: str, entry: Entry | None) -> str:
    """The CN held when it is ``wanted`` with the clash suffix it got at its add (``Jane Doe
    (jdoe2)``): renaming it back would only clash again. Otherwise ``wanted``."""
    if entry is None:
        return wanted
    held = first_value(entry.dn)
    sams = entry.get(SAM)
    if held.casefold() == wanted.casefold() or not sams:
        return wanted
    tries = islice(common_names.candidates(wanted, sams[0]), CN_KEPT_TRIES)
    return held if any(c.casefold() == held.casefold() for c in tries) else wanted


def domain_of(dn: str) -> str:
    """The domain's own DN (the trailing ``DC=`` parts): sAMAccountNames and UPNs are unique in
    the whole domain, and its password policy is kept on that object, wherever the managed OUs
    are."""
    rdns = parse_dn(dn)
    tail = len(rdns)
    while tail > 0 and all(a.lower() == "dc" for a, _ in rdns[tail - 1]):
        tail -= 1
    if tail == len(rdns):
        return dn
    return ",".join(rdn("DC", value) for part in rdns[tail:] for _, value in part)


def _upn(values: AddValues) -> str:
    found = values.get(UPN) or []
    return str(found[0]) if found else ""
