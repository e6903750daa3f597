"""The AD rules proven against the real Samba DC with plain ldap3 over verified LDAPS."""

from __future__ import annotations

import ldap3
import pytest

from connectors.ldap.active_directory import (
    account_control,
    account_names,
    anchors,
    common_names,
    foreign_owners,
    group_types,
)
from connectors.ldap.active_directory.errors import classify
from connectors.ldap.errors import LdapResultError
from reconcile.errors import PermanentTargetError, TransientTargetError
from tests.support.ad_helpers import (
    USER_CLASSES,
    checked,
    read,
    taken_names,
    unique,
)
from tests.support.samba_dc import SambaDc


def add_user(conn: ldap3.Connection, dn: str, sam: str, **more: object) -> None:
    checked("add", dn, conn.add(dn, USER_CLASSES, {"sAMAccountName": sam, **more}))


def test_samba_takes_a_21_character_name_that_our_rule_refuses(
    ad_admin: ldap3.Connection, ad_ou: str
) -> None:
    name = unique("n") + "x" * 12  # 21 characters
    assert len(name) == 21
    add_user(ad_admin, f"CN={name},{ad_ou}", name)  # Samba accepts it; Windows would not
    assert account_names.problem(name) is not None


def test_a_taken_name_read_from_the_domain_gets_the_next_suffix(
    samba_dc: SambaDc, ad_admin: ldap3.Connection, ad_ou: str
) -> None:
    base = unique("jd")
    add_user(ad_admin, f"CN=First,{ad_ou}", base.upper())  # the domain ignores case
    add_user(ad_admin, f"CN=Second,{ad_ou}", f"{base}2")
    taken = taken_names(ad_admin, samba_dc.base_dn, base)
    chosen = account_names.choose(base, taken)
    assert chosen == f"{base}3"
    add_user(ad_admin, f"CN=Third,{ad_ou}", chosen)
    # without the lookup, the directory refuses the name, and that is worth a retry
    with pytest.raises(LdapResultError) as caught:
        add_user(ad_admin, f"CN=Fourth,{ad_ou}", base)
    error = classify(caught.value)
    assert isinstance(error, TransientTargetError)
    assert "already in use" in error.reason


def test_a_cn_clash_in_one_container_gets_the_account_name_suffix(
    ad_admin: ldap3.Connection, ad_ou: str
) -> None:
    display = 'R&D, "Core" + Ops #1 <x>;'

    def is_taken(dn: str) -> bool:
        found = ad_admin.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["cn"])
        return bool(found[1]["result"] == 0)

    first_sam, second_sam = unique("c"), unique("c")
    first = common_names.choose(display, first_sam, ad_ou, is_taken)
    add_user(ad_admin, first, first_sam)
    second = common_names.choose(display, second_sam, ad_ou, is_taken)
    assert second == first.replace(",OU=", f" ({second_sam}),OU=", 1)
    add_user(ad_admin, second, second_sam)
    assert read(ad_admin, first, "cn")["cn"] == [display.encode()]
    assert read(ad_admin, second, "cn")["cn"] == [f"{display} ({second_sam})".encode()]


def test_samba_takes_a_cn_over_64_characters_that_our_rule_cuts(
    ad_admin: ldap3.Connection, ad_ou: str
) -> None:
    long_name = "L" * 80
    add_user(ad_admin, f"CN={long_name},{ad_ou}", unique("l"))  # Windows: 00002082
    assert len(common_names.clean(long_name, "x")) == 64


def test_disable_and_enable_keep_the_other_flags(ad_admin: ldap3.Connection, ad_ou: str) -> None:
    dn = f"CN=Flags,{ad_ou}"
    add_user(
        ad_admin, dn, unique("f"), userAccountControl=str(account_control.for_new_account(False))
    )
    observed = account_control.parse(
        read(ad_admin, dn, "userAccountControl")["userAccountControl"][0]
    )
    assert not account_control.is_enabled(observed)
    kept = observed | account_control.DONT_EXPIRE_PASSWORD  # set by an administrator
    checked(
        "modify",
        dn,
        ad_admin.modify(dn, {"userAccountControl": [(ldap3.MODIFY_REPLACE, [str(kept)])]}),
    )
    for enabled in (True, False, True):
        current = account_control.parse(
            read(ad_admin, dn, "userAccountControl")["userAccountControl"][0]
        )
        wanted = account_control.change(current, enabled)
        assert wanted is not None
        checked(
            "modify",
            dn,
            ad_admin.modify(dn, {"userAccountControl": [(ldap3.MODIFY_REPLACE, [str(wanted)])]}),
        )
        after = account_control.parse(
            read(ad_admin, dn, "userAccountControl")["userAccountControl"][0]
        )
        assert account_control.is_enabled(after) is enabled
        assert after & ~account_control.ACCOUNTDISABLE == kept & ~account_control.ACCOUNTDISABLE


def test_the_anchor_read_back_after_add_finds_the_entry_after_a_rename_and_move(
    samba_dc: SambaDc, ad_admin: ldap3.Connection, ad_ou: str
) -> None:
    dn = f"CN=Anchored,{ad_ou}"
    renamed = unique("Renamed")  # OU=Disabled is shared by every test of the DC
    moved = f"CN={renamed},{samba_dc.ou('Disabled')}"
    add_user(ad_admin, dn, unique("a"))
    anchor = anchors.anchor_from_guid(read(ad_admin, dn, "objectGUID")["objectGUID"][0])
    checked(
        "modify_dn",
        dn,
        ad_admin.modify_dn(dn, f"CN={renamed}", new_superior=samba_dc.ou("Disabled")),
    )
    by_dn = checked(
        "search", anchor, ad_admin.search(anchors.guid_dn(anchor), "(objectClass=*)", ldap3.BASE)
    )
    assert by_dn[0]["dn"] == moved
    by_filter = checked(
        "search",
        anchor,
        ad_admin.search(samba_dc.base_dn, anchors.guid_filter(anchor), ldap3.SUBTREE),
    )
    entries = [e for e in by_filter if e["type"] == "searchResEntry"]
    assert [e["dn"] for e in entries] == [moved]
    checked("delete", moved, ad_admin.delete(moved))


@pytest.mark.parametrize("scope", ["global", "domain_local", "universal"])
@pytest.mark.parametrize("kind", ["security", "distribution"])
def test_group_types_are_stored_as_named(
    samba_dc: SambaDc, ad_admin: ldap3.Connection, scope: str, kind: str
) -> None:
    name = unique("g")
    dn = f"CN={name},{samba_dc.ou('Groups')}"
    value = group_types.group_type(scope, kind)
    checked(
        "add",
        dn,
        ad_admin.add(dn, ["top", "group"], {"sAMAccountName": name, "groupType": str(value)}),
    )
    assert group_types.describe(read(ad_admin, dn, "groupType")["groupType"][0]) == (scope, kind)


def test_an_object_another_engine_marks_is_refused(ad_admin: ldap3.Connection, ad_ou: str) -> None:
    ours, theirs = f"CN=Ours,{ad_ou}", f"CN=Theirs,{ad_ou}"
    add_user(ad_admin, ours, unique("o"))
    add_user(ad_admin, theirs, unique("t"), **{"mS-DS-ConsistencyGuid": b"\x01" * 16})
    markers = foreign_owners.DEFAULT_ATTRIBUTES
    foreign_owners.refuse_foreign(ours, read(ad_admin, ours, *markers), markers)
    with pytest.raises(foreign_owners.ForeignOwnerError, match="mS-DS-ConsistencyGuid"):
        foreign_owners.refuse_foreign(theirs, read(ad_admin, theirs, *markers), markers)


def test_schema_range_and_duplicate_upn_refusals_are_permanent(
    samba_dc: SambaDc, ad_admin: ldap3.Connection, ad_ou: str
) -> None:
    with pytest.raises(LdapResultError) as too_long:
        add_user(ad_admin, f"CN=Emp,{ad_ou}", unique("e"), employeeID="E" * 17)
    assert isinstance(classify(too_long.value), PermanentTargetError)
    upn = f"{unique('u')}@scimsync.test"
    add_user(ad_admin, f"CN=Upn One,{ad_ou}", unique("u"), userPrincipalName=upn)
    with pytest.raises(LdapResultError) as clash:
        add_user(ad_admin, f"CN=Upn Two,{ad_ou}", unique("u"), userPrincipalName=upn)
    error = classify(clash.value)
    assert type(error) is PermanentTargetError
    assert "AD 0000202F" in error.reason and upn in error.reason
