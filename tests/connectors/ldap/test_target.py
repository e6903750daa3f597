"""The LDAP target against a real slapd: mapping, renames, disable policies, deletes, adoption."""

from __future__ import annotations

import ldap3
import pytest

from connectors.ldap.connection import Session
from connectors.ldap.names import dn_key, escape_dn_value, parse_dn
from connectors.ldap.requests import Control
from connectors.ldap.settings import LdapSettings
from connectors.ldap.target import LdapTarget
from connectors.ldap.wire import Result
from reconcile.errors import NotReadyError
from reconcile.ports import Action
from tests.support.directory import (
    entries,
    fresh_base,
    group,
    group_entry,
    identity,
    settings_for,
    user_entry,
)

RND = 'R&D, "Core" + Ops #1'
PEOPLE = ["inetOrgPerson", "organizationalPerson", "person", "top"]


def test_user_created_with_the_mapped_attributes(
    ldap_target: LdapTarget, ldap_settings: LdapSettings, directory_admin: ldap3.Connection
) -> None:
    applied = ldap_target.apply(identity("E1001"), None)
    assert applied.action is Action.CREATED
    entry = user_entry(directory_admin, ldap_settings.base_dn, "E1001")
    assert entry is not None
    assert entry["dn"] == f"uid=E1001,ou=people,{ldap_settings.base_dn}"
    assert applied.anchor == entry["entryuuid"][0]
    assert entry["mail"] == ["e1001@example.com"]
    assert entry["givenname"] == ["Given"] and entry["sn"] == ["Family"]
    assert entry["cn"] == ["User E1001"] and entry["displayname"] == ["User E1001"]
    assert entry["title"] == ["Engineer"] and entry["departmentnumber"] == ["Research"]
    assert entry["employeenumber"] == ["E1001"]
    assert ldap_target.apply(identity("E1001"), applied.anchor).action is Action.UNCHANGED


def test_sn_falls_back_to_the_user_id_and_cleared_values_are_removed(
    ldap_target: LdapTarget, ldap_settings: LdapSettings, directory_admin: ldap3.Connection
) -> None:
    first = ldap_target.apply(identity("nosn", family_name=None, given_name=None), None)
    entry = user_entry(directory_admin, ldap_settings.base_dn, "nosn")
    assert entry is not None and entry["sn"] == ["nosn"] and "givenname" not in entry
    again = ldap_target.apply(identity("nosn", title=None, family_name="Real"), first.anchor)
    assert again.action is Action.UPDATED
    entry = user_entry(directory_admin, ldap_settings.base_dn, "nosn")
    assert entry is not None and entry["sn"] == ["Real"] and "title" not in entry


def test_group_with_hostile_name_gets_a_correct_dn_and_round_trips(
    ldap_target: LdapTarget, ldap_settings: LdapSettings, directory_admin: ldap3.Connection
) -> None:
    alice = ldap_target.apply(identity("alice"), None)
    applied = ldap_target.apply(group(RND, "alice"), None)
    assert applied.action is Action.CREATED
    entry = group_entry(directory_admin, ldap_settings.base_dn, RND)
    assert entry is not None
    assert entry["cn"] == [RND]
    # slapd answers with hex escapes (cn=R&D\\2C \\22Core...); parsed, it is the same DN.
    assert parse_dn(entry["dn"])[0] == (("cn", RND),)
    assert dn_key(entry["dn"]) == dn_key(
        f"cn={escape_dn_value(RND)},ou=groups,{ldap_settings.base_dn}"
    )
    assert entry["member"] == [f"uid=alice,ou=people,{ldap_settings.base_dn}"]
    assert ldap_target.apply(group(RND, "alice"), applied.anchor).action is Action.UNCHANGED
    assert alice.anchor


def test_empty_group_holds_the_placeholder_until_a_member_arrives(
    ldap_target: LdapTarget, ldap_settings: LdapSettings, directory_admin: ldap3.Connection
) -> None:
    placeholder = f"cn=nobody,{ldap_settings.base_dn}"
    created = ldap_target.apply(group("Empty"), None)
    assert group_entry(directory_admin, ldap_settings.base_dn, "Empty")["member"] == [placeholder]  # type: ignore[index]
    ldap_target.apply(identity("m1"), None)
    ldap_target.apply(group("Empty", "m1"), created.anchor)
    members = group_entry(directory_admin, ldap_settings.base_dn, "Empty")["member"]  # type: ignore[index]
    assert members == [f"uid=m1,ou=people,{ldap_settings.base_dn}"]
    ldap_target.apply(group("Empty"), created.anchor)
    assert group_entry(directory_admin, ldap_settings.base_dn, "Empty")["member"] == [placeholder]  # type: ignore[index]


def test_membership_changes_are_deltas_that_keep_the_others(
    ldap_target: LdapTarget, ldap_settings: LdapSettings, directory_admin: ldap3.Connection
) -> None:
    base = ldap_settings.base_dn
    for u in ("a", "b", "c"):
        ldap_target.apply(identity(u), None)
    created = ldap_target.apply(group("Team", "a", "b"), None)
    # A member added by hand meanwhile is not Entra's: the next apply removes it, and only it.
    directory_admin.modify(
        f"cn=Team,ou=groups,{base}", {"member": [(ldap3.MODIFY_ADD, [f"uid=c,ou=people,{base}"])]}
    )
    ldap_target.apply(group("Team", "a", "b", generation=2), created.anchor)
    members = set(group_entry(directory_admin, base, "Team")["member"])  # type: ignore[index]
    assert members == {f"uid=a,ou=people,{base}", f"uid=b,ou=people,{base}"}


def test_group_waits_for_a_member_not_yet_in_the_directory(
    ldap_target: LdapTarget, ldap_settings: LdapSettings, directory_admin: ldap3.Connection
) -> None:
    ldap_target.apply(identity("here"), None)
    with pytest.raises(NotReadyError, match="notyet"):
        ldap_target.apply(group("Waiting", "here", "notyet"), None)
    entry = group_entry(directory_admin, ldap_settings.base_dn, "Waiting")
    assert entry is not None and len(entry["member"]) == 1  # what could be applied, was


def test_rename_moves_the_entry_and_references_follow(
    ldap_target: LdapTarget, ldap_settings: LdapSettings, directory_admin: ldap3.Connection
) -> None:
    base = ldap_settings.base_dn
    boss = ldap_target.apply(identity("boss"), None)
    ldap_target.apply(identity("worker", manager_user_id="boss"), None)
    ldap_target.apply(group("Leads", "boss", "worker"), None)
    assert user_entry(directory_admin, base, "worker")["manager"] == [f"uid=boss,ou=people,{base}"]  # type: ignore[index]
    renamed = ldap_target.apply(
        identity("chief", generation=2).__class__(
            scim_id="id-boss", generation=2, user_id="chief", family_name="Boss"
        ),
        boss.anchor,
    )
    assert renamed.action is Action.UPDATED and renamed.anchor == boss.anchor
    assert user_entry(directory_admin, base, "boss") is None
    chief = user_entry(directory_admin, base, "chief")
    assert chief is not None and chief["dn"] == f"uid=chief,ou=people,{base}"
    assert chief["uid"] == ["chief"] and chief["entryuuid"] == [boss.anchor]
    assert user_entry(directory_admin, base, "worker")["manager"] == [chief["dn"]]  # type: ignore[index]
    assert set(group_entry(directory_admin, base, "Leads")["member"]) == {  # type: ignore[index]
        chief["dn"],
        f"uid=worker,ou=people,{base}",
    }


def test_group_rename_is_a_modify_dn(
    ldap_target: LdapTarget, ldap_settings: LdapSettings, directory_admin: ldap3.Connection
) -> None:
    created = ldap_target.apply(group("Old name"), None)
    renamed = ldap_target.apply(group(RND, scim_id="gid-Old name", generation=2), created.anchor)
    assert renamed.action is Action.UPDATED and renamed.anchor == created.anchor
    assert group_entry(directory_admin, ldap_settings.base_dn, "Old name") is None
    entry = group_entry(directory_admin, ldap_settings.base_dn, RND)
    assert entry is not None and entry["entryuuid"] == [created.anchor] and entry["cn"] == [RND]


def test_entry_moved_by_hand_is_still_found_by_its_anchor(
    ldap_target: LdapTarget, ldap_settings: LdapSettings, directory_admin: ldap3.Connection
) -> None:
    base = ldap_settings.base_dn
    created = ldap_target.apply(identity("wanderer"), None)
    directory_admin.add(f"ou=elsewhere,{base}", ["organizationalUnit"], {"ou": "elsewhere"})
    _, result, _, _ = directory_admin.modify_dn(
        f"uid=wanderer,ou=people,{base}", "uid=wanderer2", new_superior=f"ou=elsewhere,{base}"
    )
    assert result["result"] == 0, result
    again = ldap_target.apply(identity("wanderer", title="Lead"), created.anchor)
    assert again.anchor == created.anchor
    entry = user_entry(directory_admin, base, "wanderer")
    assert entry is not None and entry["dn"] == f"uid=wanderer,ou=people,{base}"
    assert entry["title"] == ["Lead"]
    assert len(entries(directory_admin, base, "(objectClass=inetOrgPerson)")) == 1


def test_disable_move_and_reenable(
    ldap_target: LdapTarget, ldap_settings: LdapSettings, directory_admin: ldap3.Connection
) -> None:
    base = ldap_settings.base_dn
    created = ldap_target.apply(identity("leaver"), None)
    ldap_target.apply(group("Staff", "leaver"), None)
    disabled = ldap_target.apply(identity("leaver", active=False), created.anchor)
    assert disabled.action is Action.DISABLED
    entry = user_entry(directory_admin, base, "leaver")
    assert entry is not None and entry["dn"] == f"uid=leaver,ou=disabled,{base}"
    assert group_entry(directory_admin, base, "Staff")["member"] == [entry["dn"]]  # type: ignore[index]
    back = ldap_target.apply(identity("leaver"), created.anchor)
    assert back.action is Action.UPDATED
    assert user_entry(directory_admin, base, "leaver")["dn"] == f"uid=leaver,ou=people,{base}"  # type: ignore[index]


def test_disable_by_attribute(slapd: object, directory_admin: ldap3.Connection) -> None:
    url = slapd.url  # type: ignore[attr-defined]
    settings = settings_for(url, fresh_base(url), disable="attribute")
    target = LdapTarget(settings)
    try:
        created = target.apply(identity("flagged"), None)
        target.apply(identity("flagged", active=False), created.anchor)
        entry = user_entry(directory_admin, settings.base_dn, "flagged")
        assert entry is not None and entry["employeetype"] == ["disabled"]
        assert entry["dn"].startswith("uid=flagged,ou=people,")
        target.apply(identity("flagged"), created.anchor)
        assert "employeetype" not in user_entry(directory_admin, settings.base_dn, "flagged")  # type: ignore[operator]
    finally:
        target.close()


HOSTILE = [
    'R&D, "Core" + Ops #1',
    'a,b+c"d\\e<f>g;h=i',
    " padded ",
    "#first",
    "*(wild)*",
    "Zoë Ørsted 東京",
    "back\\slash",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_round_trip_through_slapd(
    ldap_target: LdapTarget,
    ldap_settings: LdapSettings,
    directory_admin: ldap3.Connection,
    name: str,
) -> None:
    """Each name is written into a DN and found again by filter: a wrong escape in either
    direction shows up as a failed add, a second entry, or a lost one."""
    user = ldap_target.apply(identity(name, display_name=name, email="h@example.com"), None)
    grp = ldap_target.apply(group(name, name), None)
    assert (
        ldap_target.apply(identity(name, display_name=name, email="h@example.com"), None).anchor
        == user.anchor
    )
    assert ldap_target.apply(group(name, name), None).anchor == grp.anchor
    held = user_entry(directory_admin, ldap_settings.base_dn, name)
    assert held is not None and held["uid"] == [name] and held["cn"] == [name]
    assert parse_dn(held["dn"])[0] == (("uid", name),)
    g = group_entry(directory_admin, ldap_settings.base_dn, name)
    assert g is not None and g["cn"] == [name] and dn_key(g["member"][0]) == dn_key(held["dn"])


def test_an_anchored_change_is_one_read_and_one_guarded_modify_of_the_difference(
    ldap_target: LdapTarget,
    ldap_settings: LdapSettings,
    directory_admin: ldap3.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Outside a batch an apply observes (one search), then sends only what differs, guarded
    by the anchor; with nothing to change it writes nothing."""
    created = ldap_target.apply(identity("fast"), None)
    calls: list[tuple[str, str]] = []
    original = Session.run

    def spy(self: Session, operation: str, dn: str, request: bytes, *controls: Control) -> Result:
        calls.append((operation, dn))
        return original(self, operation, dn, request, *controls)

    monkeypatch.setattr(Session, "run", spy)
    applied = ldap_target.apply(identity("fast", title="Lead"), created.anchor)
    assert applied.action is Action.UPDATED
    dn = f"uid=fast,ou=people,{ldap_settings.base_dn}"
    assert calls == [("search", ldap_settings.base_dn), ("modify", dn)]
    (change,) = applied.changes
    assert (change.action, dict(change.diff)) == ("update", {"title": (("Engineer",), ("Lead",))})
    assert user_entry(directory_admin, ldap_settings.base_dn, "fast")["title"] == ["Lead"]  # type: ignore[index]
    before = user_entry(directory_admin, ldap_settings.base_dn, "fast")["entrycsn"]  # type: ignore[index]
    calls.clear()
    again = ldap_target.apply(identity("fast", title="Lead"), created.anchor)
    assert again.action is Action.UNCHANGED and again.changes == ()
    assert calls == [("search", ldap_settings.base_dn)]
    assert user_entry(directory_admin, ldap_settings.base_dn, "fast")["entrycsn"] == before  # type: ignore[index]


def test_an_entry_replaced_between_read_and_write_is_read_again(
    ldap_target: LdapTarget,
    ldap_settings: LdapSettings,
    directory_admin: ldap3.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The guard of the modify sees another entry at the DN read: nothing is written to it,
    and the apply observes again and plans from what is there now."""
    base = ldap_settings.base_dn
    created = ldap_target.apply(identity("swap"), None)
    dn = f"uid=swap,ou=people,{base}"
    original = Session.run
    swapped: list[str] = []

    def swap_first(
        self: Session, operation: str, dn_: str, request: bytes, *controls: Control
    ) -> Result:
        if operation == "modify" and not swapped:
            swapped.append(dn_)  # someone replaces the entry by hand just before our modify
            assert directory_admin.delete(dn)
            assert directory_admin.add(dn, PEOPLE, {"uid": "swap", "sn": "x", "cn": "x"})
        return original(self, operation, dn_, request, *controls)

    monkeypatch.setattr(Session, "run", swap_first)
    applied = ldap_target.apply(identity("swap", title="Lead"), created.anchor)
    entry = user_entry(directory_admin, base, "swap")
    assert swapped == [dn] and entry is not None
    assert [c.action for c in applied.changes] == ["adopt", "update"]
    assert applied.action is Action.UPDATED and applied.anchor == entry["entryuuid"][0]
    assert applied.anchor != created.anchor
    assert entry["title"] == ["Lead"] and entry["sn"] == ["Family"]
