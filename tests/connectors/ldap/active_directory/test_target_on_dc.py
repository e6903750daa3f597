"""The LDAP target with SCIM_SYNC_LDAP_DIRECTORY=active_directory, against the real Samba DC:
the planner's writes land as AD objects (users, groups, flags, names, passwords, anchors)."""

from __future__ import annotations

import json
import logging
import stat
from collections.abc import Iterator
from pathlib import Path

import ldap3
import pytest

from connectors.ldap.active_directory import (
    account_control,
    account_names,
    anchors,
    common_names,
    group_types,
    ranged,
)
from connectors.ldap.active_directory.kind import ActiveDirectory
from connectors.ldap.names import first_value
from connectors.ldap.target import LdapTarget
from reconcile.changes import ChangeAction
from reconcile.errors import PermanentTargetError, TargetUnavailableError
from reconcile.model import Tombstone
from reconcile.ports import Action
from tests.support.ad_helpers import ad_settings, fetcher, read, unique
from tests.support.directory import group, identity
from tests.support.samba_dc import SambaDc

pytestmark = pytest.mark.slow


@pytest.fixture
def target(samba_dc: SambaDc, ad_ou: str) -> Iterator[LdapTarget]:
    made = LdapTarget(ad_settings(samba_dc, ad_ou))
    try:
        yield made
    finally:
        made.close()


def one(conn: ldap3.Connection, base: str, query: str, *attributes: str) -> dict[str, object]:
    _, _, response, _ = conn.search(base, query, ldap3.SUBTREE, attributes=list(attributes))
    found = [e for e in response if e["type"] == "searchResEntry"]
    assert len(found) == 1, found
    return {"dn": found[0]["dn"], **found[0]["raw_attributes"]}


def text(values: object) -> list[str]:
    assert isinstance(values, list)
    return [v.decode() for v in values]


def test_a_user_lands_as_an_ad_account_anchored_by_its_guid(
    target: LdapTarget, ad_admin: ldap3.Connection, ad_ou: str
) -> None:
    uid = unique("ad")
    applied = target.apply(identity(uid, display_name=f"Jane {uid}"), None)
    assert applied.action is Action.CREATED
    user = one(ad_admin, ad_ou, f"(uid={uid})", "*", "objectGUID", "pwdLastSet")
    assert user["dn"] == f"CN=Jane {uid},OU=people,{ad_ou}"
    assert text(user["sAMAccountName"]) == [uid]
    assert text(user["userPrincipalName"]) == [f"{uid.lower()}@example.com"]
    assert text(user["mail"]) == [f"{uid.lower()}@example.com"]
    assert text(user["employeeID"]) == [uid]
    assert text(user["department"]) == ["Research"]
    assert text(user["pwdLastSet"]) == ["0"]  # must change the first password
    flags = account_control.parse(text(user["userAccountControl"])[0])
    assert account_control.is_enabled(flags)
    assert applied.anchor == anchors.anchor_from_guid(user["objectGUID"][0])  # type: ignore[index]
    again = target.apply(identity(uid, display_name=f"Jane {uid}"), applied.anchor)
    assert again.action is Action.UNCHANGED


def test_disable_sets_only_the_bit_and_enable_clears_it_keeping_the_others(
    samba_dc: SambaDc, ad_admin: ldap3.Connection, ad_ou: str
) -> None:
    target = LdapTarget(ad_settings(samba_dc, ad_ou, disable="attribute"))
    try:
        uid = unique("fl")
        anchor = target.apply(identity(uid), None).anchor
        dn = str(one(ad_admin, ad_ou, f"(uid={uid})", "cn")["dn"])
        never_expires = account_control.NORMAL_ACCOUNT | account_control.DONT_EXPIRE_PASSWORD
        ad_admin.modify(dn, {"userAccountControl": [(ldap3.MODIFY_REPLACE, [str(never_expires)])]})
        off = target.apply(identity(uid, active=False), anchor)
        assert off.action is Action.DISABLED
        flags = account_control.parse(
            read(ad_admin, dn, "userAccountControl")["userAccountControl"][0]
        )
        assert flags == never_expires | account_control.ACCOUNTDISABLE
        on = target.apply(identity(uid), anchor)
        assert on.action is Action.UPDATED
        flags = account_control.parse(
            read(ad_admin, dn, "userAccountControl")["userAccountControl"][0]
        )
        assert flags == never_expires
    finally:
        target.close()


def test_the_move_policy_moves_and_sets_the_bit(
    target: LdapTarget, ad_admin: ldap3.Connection, ad_ou: str
) -> None:
    uid = unique("mv")
    anchor = target.apply(identity(uid), None).anchor
    assert target.apply(identity(uid, active=False), anchor).action is Action.DISABLED
    user = one(ad_admin, ad_ou, f"(uid={uid})", "userAccountControl")
    assert str(user["dn"]).endswith(f"OU=disabled,{ad_ou}")
    assert not account_control.is_enabled(
        account_control.parse(text(user["userAccountControl"])[0])
    )


def test_a_rename_is_a_modify_dn_and_group_members_and_managers_follow(
    target: LdapTarget, ad_admin: ldap3.Connection, ad_ou: str
) -> None:
    boss, worker = unique("bo"), unique("wo")
    boss_anchor = target.apply(identity(boss), None).anchor
    target.apply(identity(worker, manager_user_id=boss), None)
    team = group(f"Team {boss}", boss, worker)
    target.apply(team, None)
    renamed = target.apply(identity(boss, display_name="Big Boss"), boss_anchor)
    assert renamed.action is Action.UPDATED
    assert renamed.anchor == boss_anchor  # the GUID survives the rename
    new_dn = f"CN=Big Boss,OU=people,{ad_ou}"
    members = text(one(ad_admin, ad_ou, f"(cn=Team {boss})", "member")["member"])
    assert new_dn in members
    assert text(one(ad_admin, ad_ou, f"(uid={worker})", "manager")["manager"]) == [new_dn]


def test_a_cn_clash_gets_the_account_name_and_stays(
    target: LdapTarget, ad_admin: ldap3.Connection, ad_ou: str
) -> None:
    first, second = unique("cl"), unique("cl")
    target.apply(identity(first, display_name="Same Name"), None)
    made = target.apply(identity(second, display_name="Same Name"), None)
    assert made.action is Action.CREATED
    dn = one(ad_admin, ad_ou, f"(uid={second})", "cn")["dn"]
    assert dn == f"CN=Same Name ({second}),OU=people,{ad_ou}"
    assert target.apply(identity(second, display_name="Same Name"), made.anchor).action is (
        Action.UNCHANGED
    )


def test_a_taken_account_name_gets_the_next_suffix(
    target: LdapTarget, ad_admin: ldap3.Connection, ad_ou: str, samba_dc: SambaDc
) -> None:
    uid = unique("sa")
    taken_dn = f"CN=Holder {uid},{samba_dc.ou('People')}"
    ad_admin.add(taken_dn, ["user"], {"sAMAccountName": uid})
    try:
        target.apply(identity(uid), None)
        assert text(one(ad_admin, ad_ou, f"(uid={uid})", "sAMAccountName")["sAMAccountName"]) == [
            f"{uid}2"
        ]
    finally:
        ad_admin.delete(taken_dn)


def test_a_upn_held_by_another_object_is_a_dead_letter_naming_it(
    target: LdapTarget, ad_admin: ldap3.Connection, ad_ou: str, samba_dc: SambaDc
) -> None:
    uid = unique("up")
    holder = f"CN=Upn {uid},{samba_dc.ou('People')}"
    ad_admin.add(
        holder, ["user"], {"sAMAccountName": unique("h"), "userPrincipalName": f"{uid}@example.com"}
    )
    try:
        with pytest.raises(PermanentTargetError, match=f"held by 'CN=Upn {uid}"):
            target.apply(identity(uid), None)
    finally:
        ad_admin.delete(holder)


def test_groups_are_global_security_with_deltas_and_no_placeholder(
    target: LdapTarget, ad_admin: ldap3.Connection, ad_ou: str
) -> None:
    a, b = unique("ga"), unique("gb")
    target.apply(identity(a), None)
    target.apply(identity(b), None)
    name = f"Eng {a}"
    empty = target.apply(group(name), None)
    assert empty.action is Action.CREATED
    entry = one(ad_admin, ad_ou, f"(cn={name})", "groupType", "sAMAccountName", "member")
    assert group_types.describe(text(entry["groupType"])[0]) == ("global", "security")
    assert text(entry["sAMAccountName"]) == [name]
    assert "member" not in entry
    target.apply(group(name, a, b), empty.anchor)
    target.apply(group(name, b), empty.anchor)
    members = text(one(ad_admin, ad_ou, f"(cn={name})", "member")["member"])
    assert len(members) == 1 and b in members[0]
    target.apply(group(name), empty.anchor)
    assert "member" not in one(ad_admin, ad_ou, f"(cn={name})", "member")


def test_long_group_names_sharing_their_first_64_characters_both_get_an_entry(
    target: LdapTarget, ad_admin: ldap3.Connection, ad_ou: str
) -> None:
    """Windows refuses a CN over 64 characters (00002082); Samba would take it, so the cut is
    checked here by what lands, and the clash it makes by the second group getting its own."""
    head = f"{unique('g')} Regional Sales and Customer Success Leadership Team for Europe"
    first, second = f"{head} Middle East and Africa", f"{head} Asia Pacific"
    cut = head[: common_names.MAX_LENGTH].rstrip()
    made = [target.apply(group(name), None) for name in (first, second)]
    assert [m.action for m in made] == [Action.CREATED, Action.CREATED]
    _, _, response, _ = ad_admin.search(
        ad_ou, "(objectClass=group)", ldap3.SUBTREE, attributes=["displayName", "sAMAccountName"]
    )
    held = {
        text(e["raw_attributes"]["displayName"])[0]: (
            first_value(e["dn"]),
            text(e["raw_attributes"]["sAMAccountName"])[0],
        )
        for e in response
        if e["type"] == "searchResEntry"
    }
    sam = account_names.default_name(first)
    second_sam = account_names.with_suffix(sam, 2)
    assert held == {
        first: (cut, sam),
        second: (list(common_names.candidates(cut, second_sam))[1], second_sam),
    }
    # a create whose answer was lost: found again by its whole name and taken, not made twice
    again = target.apply(group(second), None)
    assert again.anchor == made[1].anchor
    assert [c.action for c in again.changes] == [ChangeAction.ADOPT]
    assert target.apply(group(first), made[0].anchor).action is Action.UNCHANGED


def test_delete_removes_the_account(
    target: LdapTarget, ad_admin: ldap3.Connection, ad_ou: str
) -> None:
    uid = unique("de")
    anchor = target.apply(identity(uid), None).anchor
    gone = target.apply(Tombstone(f"id-{uid}", 2, identity(uid).kind, uid), anchor)
    assert gone.action is Action.DELETED
    _, _, response, _ = ad_admin.search(ad_ou, f"(uid={uid})", ldap3.SUBTREE)
    assert not [e for e in response if e["type"] == "searchResEntry"]


def test_an_object_another_engine_marks_is_refused(
    target: LdapTarget, ad_admin: ldap3.Connection, ad_ou: str
) -> None:
    uid = unique("fo")
    anchor = target.apply(identity(uid), None).anchor
    dn = str(one(ad_admin, ad_ou, f"(uid={uid})", "cn")["dn"])
    ad_admin.modify(dn, {"mS-DS-ConsistencyGuid": [(ldap3.MODIFY_REPLACE, [b"\x01" * 16])]})
    with pytest.raises(PermanentTargetError, match="mS-DS-ConsistencyGuid"):
        target.apply(identity(uid, title="Changed"), anchor)
    assert text(one(ad_admin, ad_ou, f"(uid={uid})", "title")["title"]) == ["Engineer"]


def test_the_first_password_goes_to_the_file_sink_only(
    samba_dc: SambaDc, ad_ou: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sink = tmp_path / "first" / "passwords.jsonl"
    caplog.set_level(logging.DEBUG)
    target = LdapTarget(ad_settings(samba_dc, ad_ou, password_sink=f"file:{sink}"))
    try:
        uid = unique("pw")
        target.apply(identity(uid), None)
    finally:
        target.close()
    (line,) = sink.read_text().splitlines()
    handed = json.loads(line)
    assert handed["sAMAccountName"] == uid and len(handed["password"]) >= 24
    assert stat.S_IMODE(sink.stat().st_mode) == 0o600
    assert handed["password"] not in caplog.text
    check = ldap3.Connection(
        ldap3.Server(samba_dc.ldaps_url, tls=samba_dc.tls(), get_info=ldap3.NONE),
        f"{uid}@scimsync.test",
        handed["password"],
    )
    # the password is the account's: the DC answers "must change password" (data 773), not
    # "wrong password" (52e)
    try:
        assert not check.bind()
        assert "773" in check.result["message"]
    finally:
        check.unbind()


def test_a_refused_bind_is_the_target_unavailable(samba_dc: SambaDc, ad_ou: str) -> None:
    target = LdapTarget(ad_settings(samba_dc, ad_ou, password="wrong"))
    try:
        with pytest.raises(TargetUnavailableError):
            target.apply(identity(unique("bd")), None)
    finally:
        target.close()


def test_a_membership_larger_than_a_range_is_read_whole(
    target: LdapTarget, ad_admin: ldap3.Connection, ad_ou: str
) -> None:
    """Ranges of 100 (Windows cuts at 1,500; Samba only when asked): a plan that saw only the
    first range would re-add members the group has, which AD refuses."""
    assert isinstance(target.layout.kind, ActiveDirectory)
    target.layout.kind.member_step = 100
    prefix = unique("r")
    users = [f"{prefix}{n:03}" for n in range(250)]
    for uid in users:
        target.apply(identity(uid), None)
    name = f"Big {prefix}"
    made = target.apply(group(name, *users), None)
    assert target.apply(group(name, *users), made.anchor).action is Action.UNCHANGED
    fewer = target.apply(group(name, *users[1:]), made.anchor)
    assert fewer.action is Action.UPDATED
    members = ranged.read_values(fetcher(ad_admin), f"CN={name},OU=groups,{ad_ou}", "member", 100)
    assert len(members) == 249 and not any(users[0] in m for m in members)
    assert target.apply(group(name, *users[1:]), made.anchor).action is Action.UNCHANGED


def test_an_ad_refusal_is_a_dead_letter_in_plain_words(
    target: LdapTarget, ad_admin: ldap3.Connection, ad_ou: str
) -> None:
    """A title mapped by mistake to an integer attribute: the DC's extended error code is read
    from diagnosticMessage and said in words, not left as a bare LDAP result."""
    uid = unique("er")
    anchor = target.apply(identity(uid), None).anchor
    target.layout.attributes["title"] = "accountExpires"  # an integer
    with pytest.raises(PermanentTargetError) as refused:
        target.apply(identity(uid, title="Lead"), anchor)
    reason = refused.value.reason
    assert reason.startswith("a value does not have the attribute's syntax")
    assert "[AD 0000200B ERROR_DS_INVALID_ATTRIBUTE_SYNTAX]" in reason


def test_a_new_work_email_another_account_holds_is_refused_naming_it(
    target: LdapTarget, ad_admin: ldap3.Connection, ad_ou: str
) -> None:
    first, second = unique("ua"), unique("ub")
    target.apply(identity(first), None)
    anchor = target.apply(identity(second), None).anchor
    holder = str(one(ad_admin, ad_ou, f"(uid={first})", "cn")["dn"])
    with pytest.raises(PermanentTargetError, match=f"already held by '{holder}'"):
        target.apply(identity(second, email=f"{first.lower()}@example.com"), anchor)
    upn = text(one(ad_admin, ad_ou, f"(uid={second})", "userPrincipalName")["userPrincipalName"])
    assert upn == [f"{second.lower()}@example.com"]
