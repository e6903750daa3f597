"""Ranged retrieval of a 5,000-member group from the Samba DC.

Samba hands out every value unless asked for a range, so the test asks for explicit ranges of
several sizes: the loop then runs many times, as it does against Windows (1,500 per answer).
"""

from __future__ import annotations

import ldap3
import pytest

from connectors.ldap.active_directory import ranged
from connectors.ldap.connection import ADD, ConnectionPool
from connectors.ldap.names import dn_key
from connectors.ldap.requests import add_request
from tests.support.ad_helpers import ad_settings, checked, fetcher, unique
from tests.support.samba_dc import SambaDc

MEMBERS = 5_000
MEMBERS_PER_MODIFY = 1_000
CONTACT = ["top", "person", "organizationalPerson", "contact"]


@pytest.fixture(scope="module")
def big_group(samba_dc: SambaDc) -> tuple[str, list[str]]:
    """A group of 5,000 contacts (the cheapest objects a group can hold).

    The contacts are added over one connection with many requests in flight, so the DC works on
    one while the next is on its way, then put in the group by a few large modifies. What is
    left is the DC's own work per add, which grows with the number of objects in the domain:
    about 13 s on a fresh DC, against 20 s one add at a time (and half a minute or more on a
    busy machine, where every round trip waits for a core). They are left in place: the DC goes
    at the end of the run, and a tree delete of 5,000 objects would hold the one-request-at-a-
    time DC for tens of seconds, long enough for other test processes sharing it to time out."""
    ou_name = unique("big")
    ou = f"OU={ou_name},{samba_dc.ou('Groups')}"
    group = f"CN=Big,{ou}"
    members = [f"CN=c{i:05d},{ou}" for i in range(MEMBERS)]
    pool = ConnectionPool(ad_settings(samba_dc, ou), 1)
    try:
        with pool.session() as session:
            session.add(ou, ["top", "organizationalUnit"], {"ou": [ou_name]})
            contacts = [(add_request(dn, {"objectClass": CONTACT}), ()) for dn in members]
            for result in session.pipeline(contacts):
                assert result.code == 0, result
            session.add(group, ["top", "group"], {"sAMAccountName": [unique("big")]})
            for start in range(0, MEMBERS, MEMBERS_PER_MODIFY):
                added = members[start : start + MEMBERS_PER_MODIFY]
                session.modify(group, {"member": [(ADD, added)]})
    finally:
        pool.close()
    return group, members


@pytest.mark.slow
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
