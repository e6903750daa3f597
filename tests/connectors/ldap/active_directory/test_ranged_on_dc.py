"""Ranged retrieval of a 5,000-member group from the Samba DC.

Samba hands out every value unless asked for a range, so the test asks for explicit ranges of
several sizes: the loop then runs many times, as it does against Windows (1,500 per answer).
"""

from __future__ import annotations

from collections.abc import Iterator

import ldap3
import pytest

from connectors.ldap.active_directory import ranged
from connectors.ldap.names import dn_key
from tests.support.ad_helpers import checked, fetcher, unique
from tests.support.samba_dc import SambaDc

MEMBERS = 5_000


@pytest.fixture(scope="module")
def big_group(samba_dc: SambaDc) -> Iterator[tuple[str, list[str]]]:
    """A group of 5,000 contacts (the cheapest objects a group can hold), built in one add."""
    conn = samba_dc.connect()
    try:
        ou_name = unique("big")
        ou = f"OU={ou_name},{samba_dc.ou('Groups')}"
        checked("add", ou, conn.add(ou, ["top", "organizationalUnit"], {"ou": ou_name}))
        members = [f"CN=c{i:05d},{ou}" for i in range(MEMBERS)]
        for dn in members:
            checked("add", dn, conn.add(dn, ["top", "person", "organizationalPerson", "contact"]))
        group = f"CN=Big,{ou}"
        name = unique("big")
        checked(
            "add",
            group,
            conn.add(group, ["top", "group"], {"sAMAccountName": name, "member": members}),
        )
        yield group, members
    finally:
        conn.unbind()


@pytest.mark.slow
@pytest.mark.timeout(
    900
)  # the first one builds the 5,000 members: ~30 s alone, minutes on a busy DC
@pytest.mark.parametrize("step", [1500, 1000, 777, None])
def test_every_member_is_read_across_ranges(
    samba_dc: SambaDc, big_group: tuple[str, list[str]], step: int | None
) -> None:
    group, members = big_group
    conn = samba_dc.connect()
    asked: list[str] = []
    fetch = fetcher(conn)

    def counting(dn: str, spec: str) -> object:
        asked.append(spec)
        return fetch(dn, spec)

    try:
        values = ranged.read_values(counting, group, "member", step=step)  # type: ignore[arg-type]
    finally:
        conn.unbind()
    assert sorted(dn_key(v) for v in values) == sorted(dn_key(m) for m in members)
    assert len(values) == len(set(values)) == MEMBERS
    expected_calls = 1 if step is None else -(-MEMBERS // step)
    assert len(asked) == expected_calls
    assert asked[0].startswith("member;range=0-")


def test_an_empty_group_has_no_members_and_needs_no_placeholder(
    samba_dc: SambaDc, ad_admin: ldap3.Connection
) -> None:
    name = unique("e")
    group = f"CN={name},{samba_dc.ou('Groups')}"
    checked("add", group, ad_admin.add(group, ["top", "group"], {"sAMAccountName": name}))
    assert ranged.read_values(fetcher(ad_admin), group, "member", step=10) == []
