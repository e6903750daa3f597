"""Lookalike names against a real slapd: a name the directory treats as another resource's never
takes over that resource's entry, on any path; members and managers resolve only to entries
the target manages.

The lookalikes are handed to the target as desired states directly (not through SCIM, whose
own policy may refuse some of them), so these hold whatever the SCIM side accepts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ldap3
import pytest

from connectors.ldap.batch import READ_CHUNK, chunked
from connectors.ldap.matching import fold
from connectors.ldap.names import escape_filter_value, rdn
from connectors.ldap.settings import LdapSettings
from connectors.ldap.target import LdapTarget
from reconcile.anchors import AnchorMemory
from reconcile.errors import NotReadyError, PermanentTargetError
from reconcile.model import (
    Desired,
    DesiredGroup,
    DesiredIdentity,
    MemberRef,
    ResourceKind,
    Tombstone,
)
from reconcile.ports import Action, AnchorHolder, Applied
from scheduler.composition import Runtime
from tests.support import patch_body
from tests.support.directory import entries, group, group_entry, identity, user_entry
from tests.support.scim_client import create_user as create
from tests.support.scim_client import new_group, scim_client

FULLWIDTH_ALICE = "\uff41\uff4c\uff49\uff43\uff45"
STORED = ["alice", "al ice", "straße", "x\ty", "ǅemal", "ﬁle", "Ωmega", "İx", "é", "Å", "a\xa0b"]
STORED += ["k\u200bz", "ⅷ", "q\nr", "①"]
PROBES = [*STORED, "alice ", " alice", "ALICE", FULLWIDTH_ALICE, "alice\n", "al  ice", "alice\t"]
PROBES += ["STRASSE", "x y", "x\t\ty", "file", "FILE", "ωmega", "ǆemal", "Ǆemal", "ix", "İX"]
PROBES += ["e\u0301", "A\u030a", "\u212b", "a b", "a  b", "a\u3000b", "kz", "viii", "1", "q r"]


def test_the_fold_is_the_directorys_own_equality(
    ldap_settings: LdapSettings, directory_admin: ldap3.Connection
) -> None:
    """Each probe finds, in slapd, exactly the stored names that fold to the same form."""
    base = ldap_settings.base_dn
    for value in STORED:
        directory_admin.add(f"{rdn('uid', value)},{base}", ["account"], {"uid": value})
    for probe in PROBES:
        found = entries(directory_admin, base, f"(uid={escape_filter_value(probe)})")
        assert sorted(e["uid"][0] for e in found) == sorted(
            v for v in STORED if fold(v) == fold(probe)
        ), repr(probe)


def uuid_of(entry: dict[str, Any] | None) -> str:
    assert entry is not None
    return str(entry["entryuuid"][0])


def lookalike(user_id: str, **fields: Any) -> DesiredIdentity:
    desired = identity(user_id, email="intruder@example.com", **fields)
    return DesiredIdentity(**{**_fields(desired), "scim_id": "id-lookalike"})


def _fields(desired: DesiredIdentity) -> dict[str, Any]:
    return {name: getattr(desired, name) for name in desired.__slots__}


def run(target: LdapTarget, desired: DesiredIdentity, anchor: str | None) -> Applied:
    """One apply as the run loop makes it: read ahead with its batch, then applied."""
    target.prepare([(desired, anchor)])
    try:
        return target.apply(desired, anchor)
    finally:
        target.prepare([])


@pytest.mark.parametrize(
    "name", ["alice ", " alice", "ALICE", FULLWIDTH_ALICE, " Alice  ", "alice\n", "alice\t"]
)
@pytest.mark.parametrize("read_ahead", [False, True], ids=["single", "read-ahead"])
def test_a_lookalike_user_is_a_dead_letter_naming_the_owner(
    ldap_target: LdapTarget,
    ldap_settings: LdapSettings,
    directory_admin: ldap3.Connection,
    name: str,
    read_ahead: bool,
) -> None:
    base = ldap_settings.base_dn
    alice = ldap_target.apply(identity("alice"), None)
    before = user_entry(directory_admin, base, "alice")
    intruder = lookalike(name, title="Intruder")
    apply = run if read_ahead else LdapTarget.apply
    with pytest.raises(
        PermanentTargetError, match=r"collides in LDAP with user 'alice' \(id id-alice\)"
    ):
        apply(ldap_target, intruder, None)
    assert user_entry(directory_admin, base, "alice") == before
    assert before is not None and before["entryuuid"] == [alice.anchor]


def test_names_the_directory_tells_apart_are_separate_entries(
    ldap_target: LdapTarget, ldap_settings: LdapSettings, directory_admin: ldap3.Connection
) -> None:
    """(alice followed by a line feed is not one of them: a search tells it apart, but slapd's
    DN parser drops the line feed, so its add clashes with alice's DN: a dead letter above.)"""
    name = "al  ice"
    base = ldap_settings.base_dn
    alice = ldap_target.apply(identity("alice"), None)
    other = ldap_target.apply(lookalike(name), None)
    assert other.action is Action.CREATED and other.anchor != alice.anchor
    assert uuid_of(user_entry(directory_admin, base, "alice")) == alice.anchor


def test_inner_spaces_collide_with_the_single_spaced_name(
    ldap_target: LdapTarget, ldap_settings: LdapSettings
) -> None:
    ldap_target.apply(identity("al ice"), None)
    with pytest.raises(PermanentTargetError, match="collides in LDAP with user 'al ice'"):
        ldap_target.apply(lookalike("al  ice"), None)


def test_a_lookalike_group_never_replaces_the_members_of_the_owner(
    ldap_target: LdapTarget, ldap_settings: LdapSettings, directory_admin: ldap3.Connection
) -> None:
    base = ldap_settings.base_dn
    ldap_target.apply(identity("alice"), None)
    ldap_target.apply(identity("bob"), None)
    admins = ldap_target.apply(group("Admins", "alice"), None)
    with pytest.raises(
        PermanentTargetError, match=r"collides in LDAP with group 'Admins' \(id gid-Admins\)"
    ):
        ldap_target.apply(group("Admins ", "bob", scim_id="gid-lookalike"), None)
    entry = group_entry(directory_admin, base, "Admins")
    assert entry is not None and entry["entryuuid"] == [admins.anchor]
    assert entry["member"] == [f"uid=alice,ou=people,{base}"]


def test_deleting_a_lookalike_never_removes_the_owners_entry(
    ldap_target: LdapTarget, ldap_settings: LdapSettings, directory_admin: ldap3.Connection
) -> None:
    base = ldap_settings.base_dn
    alice = ldap_target.apply(identity("alice"), None)
    gone = Tombstone("id-lookalike", 2, ResourceKind.USER, "alice ")
    assert ldap_target.apply(gone, None).action is Action.UNCHANGED
    # Even holding alice's anchor (as a takeover before this fix could have recorded it).
    with pytest.raises(PermanentTargetError, match="collides in LDAP with user 'alice'"):
        ldap_target.apply(gone, alice.anchor)
    assert uuid_of(user_entry(directory_admin, base, "alice")) == alice.anchor


# the owner and the mover (each with the name to read its entry by), the mover renamed, the read
Rename = tuple[
    tuple[Desired, str],
    tuple[Desired, str],
    Desired,
    Callable[[ldap3.Connection, str, str], dict[str, Any] | None],
]
RENAMES: dict[str, Rename] = {
    "user": (
        (identity("alice"), "alice"),
        (identity("bob"), "bob"),
        DesiredIdentity(scim_id="id-bob", generation=2, user_id="Alice "),
        user_entry,
    ),
    "group": (
        (group("Admins"), "Admins"),
        (group("Staff"), "Staff"),
        group("ADMINS ", scim_id="gid-Staff", generation=2),
        group_entry,
    ),
}


@pytest.mark.parametrize("kind", RENAMES)
def test_a_rename_onto_a_lookalike_of_another_is_a_dead_letter(
    ldap_target: LdapTarget,
    ldap_settings: LdapSettings,
    directory_admin: ldap3.Connection,
    kind: str,
) -> None:
    (owner, owner_name), (mover, mover_name), renamed, read = RENAMES[kind]
    base = ldap_settings.base_dn
    owned = ldap_target.apply(owner, None)
    moved = ldap_target.apply(mover, None)
    with pytest.raises(PermanentTargetError, match=f"collides in LDAP with {kind} '{owner_name}'"):
        ldap_target.apply(renamed, moved.anchor)
    assert uuid_of(read(directory_admin, base, owner_name)) == owned.anchor
    assert uuid_of(read(directory_admin, base, mover_name)) == moved.anchor


@pytest.fixture
def svc_root(ldap_settings: LdapSettings, directory_admin: ldap3.Connection) -> str:
    """An entry outside the managed subtree whose uid a staged user also has."""
    base = ldap_settings.base_dn
    directory_admin.add(f"ou=admins,{base}", ["organizationalUnit"], {"ou": "admins"})
    dn = f"uid=svc-root,ou=admins,{base}"
    attributes = {"uid": "svc-root", "cn": "root", "sn": "root"}
    directory_admin.add(dn, ["inetOrgPerson", "organizationalPerson", "person", "top"], attributes)
    return dn


def test_an_entry_outside_the_subtree_never_becomes_a_member(
    ldap_target: LdapTarget,
    ldap_settings: LdapSettings,
    directory_admin: ldap3.Connection,
    svc_root: str,
) -> None:
    base = ldap_settings.base_dn
    with pytest.raises(PermanentTargetError, match="outside the managed subtree"):
        ldap_target.apply(identity("svc-root"), None)
    ldap_target.apply(identity("alice"), None)
    with pytest.raises(NotReadyError, match="svc-root"):
        ldap_target.apply(group("Ops", "alice", "svc-root"), None)
    entry = group_entry(directory_admin, base, "Ops")
    assert entry is not None and entry["member"] == [f"uid=alice,ou=people,{base}"]


def test_an_entry_outside_the_subtree_never_becomes_a_manager(
    ldap_target: LdapTarget,
    ldap_settings: LdapSettings,
    directory_admin: ldap3.Connection,
    svc_root: str,
) -> None:
    base = ldap_settings.base_dn
    with pytest.raises(NotReadyError, match="manager 'svc-root'"):
        ldap_target.apply(identity("worker", manager_user_id="svc-root"), None)
    entry = user_entry(directory_admin, base, "worker")
    assert entry is not None and "manager" not in entry


def test_a_member_is_its_own_entry_even_when_a_lookalike_was_refused(
    ldap_target: LdapTarget, ldap_settings: LdapSettings, directory_admin: ldap3.Connection
) -> None:
    """The member ``alice `` (never applied: it collided) waits; it does not resolve to alice."""
    base = ldap_settings.base_dn
    ldap_target.apply(identity("alice"), None)
    with pytest.raises(PermanentTargetError):
        ldap_target.apply(lookalike("alice "), None)
    team = group("Team").__class__(
        scim_id="gid-Team",
        generation=1,
        display_name="Team",
        members=frozenset({MemberRef("id-lookalike", "alice ")}),
    )
    with pytest.raises(NotReadyError, match="alice "):
        ldap_target.apply(team, None)
    entry = group_entry(directory_admin, base, "Team")
    assert entry is not None and entry["member"] == [
        ldap_settings.empty_group_member or f"cn=nobody,{base}"
    ]


class CountingBook(AnchorMemory):
    """The in-memory anchor book, counting the questions asked of it."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[int] = []

    def holders(self, target: str, anchors: Sequence[str]) -> dict[str, list[AnchorHolder]]:
        self.asked.append(len(anchors))
        return super().holders(target, anchors)


def test_the_read_ahead_asks_who_holds_its_entries_once_per_chunk(
    ldap_settings: LdapSettings, directory_admin: ldap3.Connection
) -> None:
    """A first sync onto a populated directory adopts every entry: one ledger question per
    chunk of users read ahead (three for these fifty), not one per user; and a lookalike in the
    batch is still refused."""
    base = ldap_settings.base_dn
    book = CountingBook()
    target = LdapTarget(ldap_settings, anchors=book)
    try:
        book.learn(target.name, identity("u000"), target.apply(identity("u000"), None))
        people = f"ou=people,{base}"
        classes = ["inetOrgPerson", "organizationalPerson", "person", "top"]
        for i in range(1, READ_CHUNK):
            directory_admin.add(f"uid=u{i:03},{people}", classes, {"sn": "x", "cn": "x"})
        work: list[tuple[DesiredIdentity, str | None]] = [
            (identity(f"u{i:03}"), None) for i in range(1, READ_CHUNK)
        ]
        work.append((lookalike("U000 "), None))
        book.asked.clear()
        target.prepare(work)
        outcomes: list[Action | str] = []
        for desired, anchor in work:
            try:
                outcomes.append(target.apply(desired, anchor).action)
            except PermanentTargetError as exc:
                outcomes.append(exc.reason)
        target.prepare([])
    finally:
        target.close()
    assert outcomes[:-1] == [Action.UPDATED] * (READ_CHUNK - 1)
    assert "collides in LDAP with user 'u000'" in str(outcomes[-1])
    assert book.asked == [len(chunk) for chunk in chunked(work)]


def test_a_group_waiting_for_members_keeps_its_entry_from_a_lookalike(
    ldap_target: LdapTarget, ldap_settings: LdapSettings, directory_admin: ldap3.Connection
) -> None:
    base = ldap_settings.base_dn
    ldap_target.apply(identity("alice"), None)
    with pytest.raises(NotReadyError) as waiting:
        ldap_target.apply(group("Admins", "alice", "later"), None)
    assert waiting.value.anchor == uuid_of(group_entry(directory_admin, base, "Admins"))
    with pytest.raises(PermanentTargetError, match="collides in LDAP with group 'Admins'"):
        ldap_target.apply(group("admins ", scim_id="gid-lookalike"), None)
    entry = group_entry(directory_admin, base, "Admins")
    assert entry is not None and entry["member"] == [f"uid=alice,ou=people,{base}"]


def ldap_of(runtime: Runtime) -> LdapTarget:
    return next(t for t in runtime.targets if isinstance(t, LdapTarget))


def test_the_ledger_names_the_owner_of_a_lookalike_group(
    ldap_runtime: Runtime, directory_admin: ldap3.Connection
) -> None:
    """As composed for production: the target asks the staging ledger (SQLite, PostgreSQL)."""
    base = ldap_runtime.settings.ldap.base_dn
    with scim_client(ldap_runtime) as client:
        alice, bob = create(client, "alice"), create(client, "bob")
        admins = new_group(client, "Admins")
        client.patch(
            f"/scim/v2/Groups/{admins['id']}",
            json=patch_body({"op": "add", "path": "members", "value": [{"value": alice["id"]}]}),
        )
        ldap_runtime.reconciler.run_once()
    before = group_entry(directory_admin, base, "Admins")
    intruder = DesiredGroup(
        scim_id="0190a0a0-0000-7000-8000-00000000beef",
        generation=1,
        display_name="Admins ",
        members=frozenset({MemberRef(bob["id"], "bob")}),
    )
    with pytest.raises(
        PermanentTargetError,
        match=rf"collides in LDAP with group 'Admins' \(id {admins['id']}\)",
    ):
        ldap_of(ldap_runtime).apply(intruder, None)
    assert group_entry(directory_admin, base, "Admins") == before


def test_a_member_outside_the_subtree_waits_through_the_run_loop(
    ldap_runtime: Runtime, directory_admin: ldap3.Connection
) -> None:
    base = ldap_runtime.settings.ldap.base_dn
    directory_admin.add(f"ou=admins,{base}", ["organizationalUnit"], {"ou": "admins"})
    directory_admin.add(
        f"uid=svc-root,ou=admins,{base}",
        ["inetOrgPerson", "organizationalPerson", "person", "top"],
        {"uid": "svc-root", "cn": "root", "sn": "root"},
    )
    with scim_client(ldap_runtime) as client:
        root, alice = create(client, "svc-root"), create(client, "alice")
        ops = new_group(client, "Ops")
        members = [{"value": root["id"]}, {"value": alice["id"]}]
        client.patch(
            f"/scim/v2/Groups/{ops['id']}",
            json=patch_body({"op": "add", "path": "members", "value": members}),
        )
        ldap_runtime.reconciler.run_once()
    entry = group_entry(directory_admin, base, "Ops")
    assert entry is not None and entry["member"] == [f"uid=alice,ou=people,{base}"]
    (state,) = ldap_runtime.ledger.states_of(ops["id"], ["ldap"])
    assert state.status == "pending" and "svc-root" in (state.last_error or "")
    assert state.anchor == entry["entryuuid"][0]
    (refused,) = ldap_runtime.ledger.states_of(root["id"], ["ldap"])
    assert refused.status == "dead" and "outside the managed subtree" in (refused.last_error or "")


@pytest.mark.parametrize("read_ahead", [False, True], ids=["single", "read-ahead"])
def test_renaming_a_user_onto_a_lookalike_of_its_own_name_keeps_its_one_entry(
    ldap_target: LdapTarget,
    ldap_settings: LdapSettings,
    directory_admin: ldap3.Connection,
    read_ahead: bool,
) -> None:
    """``alice`` → ``alice ``: the same name to the directory, so the same DN: no modify-DN
    clash with itself, no second entry; the stored value follows Entra's."""
    base = ldap_settings.base_dn
    alice = ldap_target.apply(identity("alice"), None)
    renamed = DesiredIdentity(**{**_fields(identity("alice ")), "scim_id": "id-alice"})
    renamed = DesiredIdentity(**{**_fields(renamed), "generation": 2})
    apply = run if read_ahead else LdapTarget.apply
    applied = apply(ldap_target, renamed, alice.anchor)
    assert applied.anchor == alice.anchor
    found = entries(directory_admin, base, "(objectClass=inetOrgPerson)")
    assert [e["entryuuid"] for e in found] == [[alice.anchor]]
    assert found[0]["uid"] == ["alice "], found
    assert apply(ldap_target, renamed, alice.anchor).action is Action.UNCHANGED


def test_a_group_renamed_onto_a_lookalike_of_its_own_name_keeps_its_one_entry(
    ldap_target: LdapTarget, ldap_settings: LdapSettings, directory_admin: ldap3.Connection
) -> None:
    base = ldap_settings.base_dn
    ldap_target.apply(identity("alice"), None)
    admins = ldap_target.apply(group("Admins", "alice"), None)
    applied = ldap_target.apply(
        group("ADMINS ", "alice", scim_id="gid-Admins", generation=2), admins.anchor
    )
    assert applied.anchor == admins.anchor
    found = entries(directory_admin, base, "(objectClass=groupOfNames)")
    assert [e["entryuuid"] for e in found] == [[admins.anchor]]
    assert found[0]["member"] == [f"uid=alice,ou=people,{base}"]
    again = group("ADMINS ", "alice", scim_id="gid-Admins", generation=2)
    assert ldap_target.apply(again, admins.anchor).action is Action.UNCHANGED


def test_a_plan_asks_who_holds_the_entries_it_found_once_per_batch(
    ldap_settings: LdapSettings,
) -> None:
    """``reconcile --dry-run`` shows a clash where the apply would refuse a takeover, and
    asks the ledger once for the batch, not once per lookalike."""
    book = CountingBook()
    target = LdapTarget(ldap_settings, anchors=book)
    try:
        for user_id in ("alice", "bob"):
            book.learn(target.name, identity(user_id), target.apply(identity(user_id), None))
        work: list[tuple[Desired, str | None]] = [
            (lookalike("alice "), None),
            (DesiredIdentity(**{**_fields(identity("BOB")), "scim_id": "id-other"}), None),
            (identity("carol"), None),
        ]
        book.asked.clear()
        seen = target.observe(work)
    finally:
        target.close()
    assert len(book.asked) == 1
    first, second, third = (target.plan(d, o) for (d, _), o in zip(work, seen, strict=True))
    assert [c.action for c in first] == ["clash"]
    assert "user 'alice' (id id-alice)" in (first[0].detail or "")
    assert [c.action for c in second] == ["clash"]
    assert "user 'bob' (id id-bob)" in (second[0].detail or "")
    assert [c.action for c in third] == ["create"]
