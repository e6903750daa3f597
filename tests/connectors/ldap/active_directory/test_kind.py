"""The AD directory kind's decisions that need no DC: values, kept CNs, the domain, refusals."""

from __future__ import annotations

import socket
from collections.abc import Sequence

import pytest

from connectors.ldap.active_directory import account_control, common_names
from connectors.ldap.active_directory.kind import ActiveDirectory, domain_of
from connectors.ldap.active_directory.passwords import PasswordTransportError
from connectors.ldap.groups import group_naming
from connectors.ldap.mapping import Layout
from connectors.ldap.names import first_value
from connectors.ldap.plan import LdapObserved, plan
from connectors.ldap.responses import Entry
from connectors.ldap.settings import LdapSettings
from reconcile.changes import ChangeAction
from tests.support.directory import group, identity


class PlainSession:
    """A session whose socket is a plain TCP socket; records what would be sent."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.searched: list[str] = []

    def search(self, base: str, query: str, attributes: Sequence[str]) -> list[Entry]:
        self.searched.append(query)
        return []

    def read(self, dn: str, attributes: Sequence[str]) -> Entry | None:
        return Entry(dn, {"minpwdlength": ["7"], "pwdproperties": ["1"]})


def kind() -> ActiveDirectory:
    return ActiveDirectory(base_dn="OU=Sync,DC=example,DC=com", markers=["mS-DS-ConsistencyGuid"])


def test_the_domain_is_the_trailing_dc_parts() -> None:
    assert domain_of("OU=a,OU=b,DC=example,DC=com") == "DC=example,DC=com"
    assert domain_of("DC=example,DC=com") == "DC=example,DC=com"


def test_a_password_never_leaves_on_a_plain_socket() -> None:
    session = PlainSession()
    try:
        with pytest.raises(PasswordTransportError, match="ldaps://"):
            kind().prepare_add(
                session,  # type: ignore[arg-type]
                identity("jdoe"),
                "CN=User jdoe,OU=Sync,DC=example,DC=com",
                {"cn": ["User jdoe"]},
            )
    finally:
        session.socket.close()
    assert session.searched  # names were checked; the add itself was never built


def test_user_values_keep_every_flag_but_accountdisable() -> None:
    held = str(account_control.NORMAL_ACCOUNT | account_control.DONT_EXPIRE_PASSWORD)
    entry = Entry("CN=x,DC=example,DC=com", {"useraccountcontrol": [held]})
    values: dict[str, list[str]] = {"cn": ["  Jane\tDoe "]}
    kind().user_values(identity("a" * 17, active=False), values, entry)
    assert values["userAccountControl"] == [str(int(held) | account_control.ACCOUNTDISABLE)]
    assert values["cn"] == ["Jane Doe"]
    assert "employeeID" not in values  # 17 characters do not fit: left alone
    kind().user_values(identity("short"), values, entry)
    assert values["userAccountControl"] == [held]  # unchanged, as the server wrote it
    assert values["employeeID"] == ["short"]


def test_a_suffixed_cn_is_kept_and_another_one_renamed() -> None:
    wanted = "CN=Jane Doe,OU=p,DC=example,DC=com"
    suffixed = Entry("CN=Jane Doe (jdoe2),OU=p,DC=example,DC=com", {"samaccountname": ["jdoe2"]})
    other = Entry("CN=Old Name,OU=p,DC=example,DC=com", {"samaccountname": ["jdoe2"]})
    for entry, cn in ((suffixed, "Jane Doe (jdoe2)"), (other, "Jane Doe")):
        values: dict[str, list[str]] = {"cn": [first_value(wanted)]}
        kind().user_values(identity("jdoe"), values, entry)
        assert values["cn"] == [cn]


LONG = "Regional Sales and Customer Success Leadership Team for Europe Middle East and Africa"
"""A group name of 85 characters: its first 64 are shared by :data:`LONG_TOO`."""
LONG_TOO = LONG.replace("Africa", "Asia")


def ad_layout() -> Layout:
    settings = LdapSettings(
        url="ldaps://dc.example.test",
        base_dn="OU=Sync,DC=example,DC=test",
        directory="active_directory",
    )
    return Layout.from_settings(settings)


def test_a_group_cn_is_cut_to_64_and_the_whole_name_kept_in_display_name() -> None:
    values: dict[str, list[str]] = {"cn": [LONG]}
    kind().group_values(group(LONG), values, None)
    assert values["cn"] == [LONG[:64].rstrip()]
    assert len(values["cn"][0]) <= common_names.MAX_LENGTH
    assert values["displayName"] == [LONG]
    created = plan(ad_layout(), group(LONG), LdapObserved(None))
    assert [c.action for c in created] == [ChangeAction.CREATE]
    assert created[0].moved_to == f"cn={LONG[:64].rstrip()},ou=groups,OU=Sync,DC=example,DC=test"
    assert created[0].diff["displayName"] == ((), (LONG,))


def test_a_long_group_cn_that_got_a_clash_suffix_keeps_it() -> None:
    suffix = " (Regional Sales and 2)"
    held = LONG[: 64 - len(suffix)].rstrip() + suffix
    entry = Entry(
        f"CN={held},OU=groups,OU=Sync,DC=example,DC=test",
        {"samaccountname": ["Regional Sales and 2"], "displayname": [LONG_TOO], "cn": [held]},
    )
    values: dict[str, list[str]] = {"cn": [LONG_TOO]}
    kind().group_values(group(LONG_TOO), values, entry)
    assert values["cn"] == [held]
    again = plan(ad_layout(), group(LONG_TOO), LdapObserved(entry))
    assert again == []  # neither renamed back (it would clash again) nor rewritten


def test_an_ad_group_is_found_by_its_whole_name_and_a_hand_made_one_by_cn() -> None:
    naming = group_naming(ad_layout(), "g1", LONG)
    assert "(displayName=" in naming.filter and "(cn=" in naming.filter
    cut = LONG_TOO[:64].rstrip()
    other_long = Entry("CN=x,DC=t", {"cn": [cut], "displayname": [LONG_TOO]})
    same_long = Entry("CN=y,DC=t", {"cn": [cut], "displayname": [LONG]})
    hand_made = Entry("CN=z,DC=t", {"cn": ["Sales"]})
    assert not naming.matches(other_long)  # shares the CN, not the name
    assert naming.matches(same_long)
    assert group_naming(ad_layout(), "g2", "Sales").matches(hand_made)
    assert not group_naming(ad_layout(), "g3", cut).matches(other_long)


def test_a_marked_object_is_refused_and_an_unmarked_one_is_not() -> None:
    marked = Entry("CN=x,DC=example,DC=com", {"ms-ds-consistencyguid": ["\x01"]})
    refused = kind().refusal(marked)
    assert refused is not None and "mS-DS-ConsistencyGuid" in str(refused)
    assert kind().refusal(Entry("CN=y,DC=example,DC=com", {})) is None


def test_a_foreign_anchor_finds_nothing_instead_of_failing() -> None:
    assert kind().anchor_filter("not-a-guid") == "(!(objectClass=*))"
