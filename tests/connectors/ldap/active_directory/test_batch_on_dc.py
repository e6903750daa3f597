"""A batch of AD creates on the Samba DC: the names of the whole batch checked together, the adds
sent ahead on one connection with their first passwords, the new objectGUIDs read back together;
and a user whose names are taken, in the domain or by another user of the same batch, added by
its own apply as before (a suffix, or a dead letter)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import ldap3
import pytest

from connectors.ldap.active_directory import anchors, kind
from connectors.ldap.active_directory.passwords import NewPassword, PasswordPolicy, generate
from connectors.ldap.target import LdapTarget
from reconcile.errors import PermanentTargetError
from reconcile.model import DesiredIdentity
from reconcile.ports import Action, Applied
from tests.support.ad_helpers import ad_settings, unique
from tests.support.directory import Sent, identity
from tests.support.samba_dc import SambaDc

pytestmark = pytest.mark.slow


@pytest.fixture
def target(samba_dc: SambaDc, ad_ou: str) -> Iterator[LdapTarget]:
    made = LdapTarget(ad_settings(samba_dc, ad_ou))
    try:
        made.apply(identity(unique("warm")), None)  # containers and the policy, not counted
        yield made
    finally:
        made.close()


def run(target: LdapTarget, users: Sequence[DesiredIdentity]) -> list[Applied | str]:
    """What the run loop does with a phase of creates: prepare, apply each, forget."""
    target.prepare([(user, None) for user in users])
    outcomes: list[Applied | str] = []
    try:
        for user in users:
            try:
                outcomes.append(target.apply(user, None))
            except PermanentTargetError as exc:
                outcomes.append(exc.reason)
    finally:
        target.prepare([])
    return outcomes


def held(conn: ldap3.Connection, base: str, prefix: str) -> dict[str, dict[str, object]]:
    _, _, response, _ = conn.search(
        base,
        f"(uid={prefix}*)",
        ldap3.SUBTREE,
        attributes=["uid", "sAMAccountName", "objectGUID", "pwdLastSet"],
    )
    return {
        e["raw_attributes"]["uid"][0].decode(): {"dn": e["dn"], **e["raw_attributes"]}
        for e in response
        if e["type"] == "searchResEntry"
    }


def test_a_batch_of_creates_goes_ahead_with_passwords_and_anchors_read_together(
    target: LdapTarget,
    ad_admin: ldap3.Connection,
    ad_ou: str,
    samba_dc: SambaDc,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    passwords: dict[str, NewPassword] = {}

    def remembered(policy: PasswordPolicy, sam: str, display_name: str) -> NewPassword:
        passwords[sam] = generate(policy, sam, display_name)
        return passwords[sam]

    monkeypatch.setattr(kind, "generate", remembered)
    prefix = unique("b")
    users = [identity(f"{prefix}{i:02d}") for i in range(30)]
    sent = Sent(monkeypatch)
    outcomes = run(target, users)
    # ahead: the 30 adds, with a names search and an anchors search for each pipeline (one
    # or two: the first chunk of 10 goes alone when the writer is quicker than the reader);
    # besides, only the read-ahead by uid (a search per chunk), no read by any apply
    assert sent.batch - 30 in (2, 4)
    assert sent.others == 2
    accounts = held(ad_admin, ad_ou, prefix)
    for user, outcome in zip(users, outcomes, strict=True):
        account = accounts[user.user_id]
        assert account["sAMAccountName"] == [user.user_id.encode()]
        assert account["pwdLastSet"] == [b"0"]
        guid = account["objectGUID"]
        assert isinstance(guid, list)
        assert outcome == Applied(Action.CREATED, anchors.anchor_from_guid(guid[0]))
    some = users[7].user_id
    check = ldap3.Connection(
        ldap3.Server(samba_dc.ldaps_url, tls=samba_dc.tls(), get_info=ldap3.NONE),
        f"{some}@scimsync.test",
        passwords[some].reveal(),
    )
    try:  # the password went with the add: "must change password" (773), not "wrong" (52e)
        assert not check.bind()
        assert "773" in check.result["message"]
    finally:
        check.unbind()


def test_names_taken_in_the_domain_or_in_the_batch_are_settled_by_each_apply(
    target: LdapTarget,
    ad_admin: ldap3.Connection,
    ad_ou: str,
    samba_dc: SambaDc,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prefix = unique("n")
    taken_sam, upn_holder = f"{prefix}t", f"{prefix}u"
    outsider = f"CN=Outsider {prefix},{samba_dc.ou('People')}"
    ad_admin.add(
        outsider,
        ["user"],
        {"sAMAccountName": taken_sam, "userPrincipalName": f"{upn_holder}@example.com"},
    )
    try:
        users = [
            identity(f"{prefix}a", display_name=f"Same {prefix}"),
            identity(f"{prefix}b", display_name=f"Same {prefix}"),  # the CN of the one before
            identity(taken_sam),  # its sAMAccountName is the outsider's
            identity(upn_holder),  # its UPN is the outsider's
            identity(f"{prefix}c"),
        ]
        sent = Sent(monkeypatch)
        outcomes = run(target, users)
    finally:
        ad_admin.delete(outsider)
    assert [o.action if isinstance(o, Applied) else "refused" for o in outcomes] == [
        Action.CREATED,
        Action.CREATED,
        Action.CREATED,
        "refused",
        Action.CREATED,
    ]
    assert f"already held by '{outsider}'" in str(outcomes[3])
    assert sent.batch == 2 + 2  # two ahead (a, c); the others alone, after the names search
    accounts = held(ad_admin, ad_ou, prefix)
    assert accounts[f"{prefix}b"]["dn"] == f"CN=Same {prefix} ({prefix}b),OU=people,{ad_ou}"
    assert accounts[taken_sam]["sAMAccountName"] == [f"{taken_sam}2".encode()]
    assert upn_holder not in accounts


def test_with_a_password_sink_every_add_goes_alone(
    samba_dc: SambaDc, ad_ou: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = tmp_path / "passwords.jsonl"
    target = LdapTarget(ad_settings(samba_dc, ad_ou, password_sink=f"file:{sink}"))
    try:
        prefix = unique("s")
        users = [identity(f"{prefix}{i}") for i in range(3)]
        sent = Sent(monkeypatch)
        outcomes = run(target, users)
    finally:
        target.close()
    assert {o.action for o in outcomes if isinstance(o, Applied)} == {Action.CREATED}
    assert sent.batch == 0
    assert len(sink.read_text().splitlines()) == 3
