"""Settings that change behaviour: adoption, the delete disable policy, group class, RDN, map."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import ldap3
import pytest

from connectors.ldap.settings import LdapSettings
from connectors.ldap.target import LdapTarget
from reconcile.errors import NotReadyError, PermanentTargetError
from reconcile.model import ResourceKind, Tombstone
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
from tests.support.slapd import SlapdServer


@pytest.fixture
def make_target(slapd: SlapdServer) -> Iterator[Any]:
    made: list[LdapTarget] = []

    def make(**overrides: Any) -> tuple[LdapTarget, LdapSettings]:
        settings = settings_for(slapd.url, fresh_base(slapd.url), **overrides)
        made.append(LdapTarget(settings))
        return made[-1], settings

    yield make
    for target in made:
        target.close()


def add_person(conn: ldap3.Connection, dn: str, uid: str) -> None:
    _, result, _, _ = conn.add(dn, ["inetOrgPerson"], {"uid": uid, "cn": uid, "sn": uid})
    assert result["result"] == 0, result


def add_ou(conn: ldap3.Connection, dn: str) -> None:
    _, result, _, _ = conn.add(dn, ["organizationalUnit"], {"ou": dn.split(",")[0][3:]})
    assert result["result"] in (0, 68), result


def test_an_entry_inside_the_managed_subtree_is_adopted(
    make_target: Any, directory_admin: ldap3.Connection
) -> None:
    target, settings = make_target()
    base = settings.base_dn
    add_ou(directory_admin, f"ou=people,{base}")
    add_person(directory_admin, f"uid=legacy,ou=people,{base}", "legacy")
    adopted = target.apply(identity("legacy"), None)
    entry = user_entry(directory_admin, base, "legacy")
    assert entry is not None and adopted.anchor == entry["entryuuid"][0]
    assert adopted.action is Action.UPDATED and entry["mail"] == ["legacy@example.com"]
    assert len(entries(directory_admin, base, "(uid=legacy)")) == 1  # never duplicated


@pytest.mark.parametrize("policy", ["subtree", "never"])
def test_an_existing_entry_is_refused_by_policy(
    make_target: Any, directory_admin: ldap3.Connection, policy: str
) -> None:
    target, settings = make_target(adopt=policy)
    base = settings.base_dn
    where = "ou=elsewhere" if policy == "subtree" else "ou=people"
    add_ou(directory_admin, f"{where},{base}")
    add_person(directory_admin, f"uid=outsider,{where},{base}", "outsider")
    with pytest.raises(PermanentTargetError, match=f"SCIM_SYNC_LDAP_ADOPT={policy}"):
        target.apply(identity("outsider"), None)
    assert len(entries(directory_admin, base, "(uid=outsider)")) == 1


def test_a_delete_without_anchor_leaves_an_unmanaged_entry_alone(
    make_target: Any, directory_admin: ldap3.Connection
) -> None:
    target, settings = make_target()
    base = settings.base_dn
    add_ou(directory_admin, f"ou=elsewhere,{base}")
    add_person(directory_admin, f"uid=bystander,ou=elsewhere,{base}", "bystander")
    gone = target.apply(Tombstone("id-b", 2, ResourceKind.USER, "bystander"), None)
    assert gone.action is Action.UNCHANGED
    assert user_entry(directory_admin, base, "bystander") is not None


def test_adopt_anywhere_takes_the_entry_over_and_moves_it_in(
    make_target: Any, directory_admin: ldap3.Connection
) -> None:
    target, settings = make_target(adopt="anywhere")
    base = settings.base_dn
    add_ou(directory_admin, f"ou=elsewhere,{base}")
    add_person(directory_admin, f"uid=outsider,ou=elsewhere,{base}", "outsider")
    target.apply(identity("outsider"), None)
    entry = user_entry(directory_admin, base, "outsider")
    assert entry is not None and entry["dn"] == f"uid=outsider,ou=people,{base}"


def test_two_entries_with_the_user_id_are_never_guessed_between(
    make_target: Any, directory_admin: ldap3.Connection
) -> None:
    target, settings = make_target(adopt="anywhere")
    base = settings.base_dn
    for ou in ("people", "elsewhere"):
        add_ou(directory_admin, f"ou={ou},{base}")
        add_person(directory_admin, f"uid=twin,ou={ou},{base}", "twin")
    with pytest.raises(PermanentTargetError, match="matches 2 entries"):
        target.apply(identity("twin"), None)


def test_disable_policy_delete_removes_and_reenable_recreates(
    make_target: Any, directory_admin: ldap3.Connection
) -> None:
    target, settings = make_target(disable="delete")
    base = settings.base_dn
    first = target.apply(identity("temp"), None)
    team = target.apply(group("Team", "temp"), None)
    assert target.apply(identity("temp", active=False), first.anchor).action is Action.DISABLED
    assert user_entry(directory_admin, base, "temp") is None
    assert group_entry(directory_admin, base, "Team")["member"] == [f"cn=nobody,{base}"]  # type: ignore[index]
    # The group now waits for its member, and takes it back once it is re-created.
    with pytest.raises(NotReadyError, match="temp"):
        target.apply(group("Team", "temp"), team.anchor)
    back = target.apply(identity("temp"), None)
    assert back.action is Action.CREATED and back.anchor != first.anchor
    target.apply(group("Team", "temp"), team.anchor)
    assert group_entry(directory_admin, base, "Team")["member"] == [f"uid=temp,ou=people,{base}"]  # type: ignore[index]


def test_delete_removes_memberships_and_manager_references(
    make_target: Any, directory_admin: ldap3.Connection
) -> None:
    target, settings = make_target()
    base = settings.base_dn
    boss = target.apply(identity("boss"), None)
    target.apply(identity("report", manager_user_id="boss"), None)
    target.apply(group("Both", "boss", "report"), None)
    gone = target.apply(Tombstone("id-boss", 2, ResourceKind.USER, "boss"), boss.anchor)
    assert gone.action is Action.DELETED
    assert user_entry(directory_admin, base, "boss") is None
    assert "manager" not in user_entry(directory_admin, base, "report")  # type: ignore[operator]
    assert group_entry(directory_admin, base, "Both")["member"] == [f"uid=report,ou=people,{base}"]  # type: ignore[index]
    again = target.apply(Tombstone("id-boss", 2, ResourceKind.USER, "boss"), boss.anchor)
    assert again.action is Action.UNCHANGED


def test_group_of_unique_names(make_target: Any, directory_admin: ldap3.Connection) -> None:
    target, settings = make_target(group_object_class="groupOfUniqueNames")
    base = settings.base_dn
    target.apply(identity("u1"), None)
    target.apply(group("Unique", "u1"), None)
    found = entries(directory_admin, base, "(objectClass=groupOfUniqueNames)")
    assert [e["uniquemember"] for e in found] == [[f"uid=u1,ou=people,{base}"]]


def test_cn_as_user_rdn_renames_on_display_name_change(
    make_target: Any, directory_admin: ldap3.Connection
) -> None:
    target, settings = make_target(user_rdn="cn")
    base = settings.base_dn
    created = target.apply(identity("named", display_name="Ada, Countess"), None)
    assert user_entry(directory_admin, base, "named")["cn"] == ["Ada, Countess"]  # type: ignore[index]
    target.apply(identity("named", display_name="Ada Lovelace"), created.anchor)
    entry = user_entry(directory_admin, base, "named")
    assert entry is not None and entry["dn"] == f"cn=Ada Lovelace,ou=people,{base}"
    assert entry["cn"] == ["Ada Lovelace"]


def test_attribute_map_redirects_and_drops_fields(
    make_target: Any, directory_admin: ldap3.Connection
) -> None:
    target, settings = make_target(attribute_map="department=ou title=")
    target.apply(identity("mapped"), None)
    entry = user_entry(directory_admin, settings.base_dn, "mapped")
    assert entry is not None and entry["ou"] == ["Research"]
    assert "title" not in entry and "departmentnumber" not in entry


def test_a_schema_violation_is_permanent_with_the_servers_reason(make_target: Any) -> None:
    target, _ = make_target(attribute_map="family_name=")  # sn is mandatory for a person
    with pytest.raises(PermanentTargetError, match="objectClassViolation") as caught:
        target.apply(identity("nosn"), None)
    assert "sn" in str(caught.value)


def test_parallel_applies_on_pooled_connections(
    make_target: Any, directory_admin: ldap3.Connection
) -> None:
    target, settings = make_target(connections=4)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: target.apply(identity(f"p{i:02d}"), None), range(40)))
    assert {r.action for r in results} == {Action.CREATED}
    assert len({r.anchor for r in results}) == 40
    assert len(entries(directory_admin, settings.base_dn, "(objectClass=inetOrgPerson)")) == 40
