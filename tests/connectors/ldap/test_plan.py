"""The LDAP planner without a server: what it decides from an entry, for each policy."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from connectors.ldap.execute import member_modifies, single_write
from connectors.ldap.mapping import Layout
from connectors.ldap.plan import LdapObserved, member_delta, plan
from connectors.ldap.responses import Entry
from connectors.ldap.session import ADD, DELETE
from connectors.ldap.settings import LdapSettings
from reconcile.changes import ChangeAction
from reconcile.errors import ClashError
from reconcile.model import DesiredGroup, DesiredIdentity, MemberRef, ResourceKind, Tombstone

BASE = "dc=example,dc=org"
PEOPLE = f"ou=people,{BASE}"
NOBODY = f"cn=nobody,{BASE}"


def layout(**overrides: object) -> Layout:
    values: dict[str, object] = {"url": "ldap://127.0.0.1", "base_dn": BASE}
    values.update(overrides)
    return Layout.from_settings(LdapSettings(**values))  # type: ignore[arg-type]


def ada(**changes: Any) -> DesiredIdentity:
    person = DesiredIdentity(
        "s1", 1, "ada", email="ada@x", given_name="Ada", family_name="King", display_name="Ada K"
    )
    return replace(person, **changes)


def held(lay: Layout, desired: DesiredIdentity, dn: str | None = None) -> LdapObserved:
    """The entry as the directory would hold it after a plain apply of ``desired``."""
    values = lay.user_values(desired, None)
    attributes = {a.lower(): list(v) for a, v in values.items() if v}
    attributes["entryuuid"] = ["u-1"]
    return LdapObserved(Entry(dn or lay.user_dn(desired, values), attributes))


def actions(changes: object) -> list[str]:
    return [c.action.value for c in changes]  # type: ignore[attr-defined]


def test_nothing_to_change_is_an_empty_plan_and_no_write() -> None:
    lay = layout()
    observed = held(lay, ada())
    assert plan(lay, ada(), observed) == []
    assert single_write(lay, ada(), observed, []) is None


def test_an_attribute_change_is_one_update_of_that_attribute_and_one_guarded_modify() -> None:
    lay = layout()
    (update,) = plan(lay, ada(title="Lead"), held(lay, ada()))
    assert update.action is ChangeAction.UPDATE and dict(update.diff) == {"title": ((), ("Lead",))}
    request = single_write(lay, ada(title="Lead"), held(lay, ada()), [update])
    assert isinstance(request, tuple) and request[1][0][1] is True  # the entryUUID assertion


def test_a_create_carries_every_value_and_is_one_add() -> None:
    lay = layout()
    (create,) = plan(lay, ada(), LdapObserved(None))
    assert create.moved_to == f"uid=ada,{PEOPLE}"
    assert dict(create.diff)["sn"] == ((), ("King",))
    assert single_write(lay, ada(), LdapObserved(None), [create]) is not None


def test_a_user_id_change_is_a_rename_with_the_naming_value_following() -> None:
    lay = layout()
    changes = plan(lay, ada(user_id="ada.k"), held(lay, ada()))
    assert actions(changes) == ["rename"]  # the modify-DN replaces the uid value itself
    assert (changes[0].locator, changes[0].moved_to) == (f"uid=ada,{PEOPLE}", f"uid=ada.k,{PEOPLE}")
    assert single_write(lay, ada(user_id="ada.k"), held(lay, ada()), changes) is None


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("move", ["disable"]), ("attribute", ["disable"]), ("delete", ["delete"])],
)
def test_a_disable_under_each_policy(policy: str, expected: list[str]) -> None:
    lay = layout(disable=policy)
    (change,) = plan(lay, ada(active=False), held(lay, ada()))
    assert actions([change]) == expected
    if policy == "move":
        assert change.moved_to == f"uid=ada,ou=disabled,{BASE}"
    if policy == "attribute":
        assert dict(change.diff) == {"employeeType": ((), ("disabled",))}
    if policy == "delete":
        assert change.locator == f"uid=ada,{PEOPLE}" and "DISABLE=delete" in (change.detail or "")
        assert plan(lay, ada(active=False), LdapObserved(None)) == []


def test_an_enable_moves_back_out_of_the_disabled_container() -> None:
    lay = layout()
    disabled = held(lay, ada(active=False))
    (enable,) = plan(lay, ada(), disabled)
    assert enable.action is ChangeAction.ENABLE and enable.moved_to == f"uid=ada,{PEOPLE}"


def test_an_entry_found_by_name_is_adopted_first() -> None:
    lay = layout()
    observed = replace(held(lay, ada()), adopted=True)
    assert actions(plan(lay, ada(title="Lead"), observed)) == ["adopt", "update"]


def test_a_manager_not_in_the_directory_is_waited_for_and_left_alone() -> None:
    lay = layout()
    boss = f"uid=boss,{PEOPLE}"
    entry = held(lay, ada())
    entry.entry.attributes["manager"] = [boss]  # type: ignore[union-attr]
    waiting = ada(manager_scim_id="s-boss", manager_user_id="boss")
    (wait,) = plan(lay, waiting, entry)
    assert wait.action is ChangeAction.WAIT and "boss" in (wait.detail or "")
    resolved = replace(entry, manager_dn=boss)
    assert plan(lay, waiting, resolved) == []


def test_a_refusal_is_the_whole_plan() -> None:
    lay = layout()
    refused = LdapObserved(None, refused=ClashError("the name collides"))
    (clash,) = plan(lay, ada(), refused)
    assert (clash.action, clash.detail) == (ChangeAction.CLASH, "the name collides")


def test_a_tombstone_deletes_what_was_found_and_nothing_else() -> None:
    lay = layout()
    gone = Tombstone("s1", 2, ResourceKind.USER, "ada")
    assert actions(plan(lay, gone, held(lay, ada()))) == ["delete"]
    assert plan(lay, gone, LdapObserved(None)) == []


def group_entry(*members: str) -> LdapObserved:
    attributes = {"cn": ["Crew"], "member": list(members), "entryuuid": ["g-1"]}
    return LdapObserved(Entry(f"cn=Crew,ou=groups,{BASE}", attributes))


def crew(*user_ids: str) -> DesiredGroup:
    members = frozenset(MemberRef(f"s-{u}", u) for u in user_ids)
    return DesiredGroup("g1", 1, "Crew", members=members)


def dns(*user_ids: str) -> dict[str, str]:
    return {f"s-{u}": f"uid={u},{PEOPLE}" for u in user_ids}


def test_a_first_member_replaces_the_placeholder_in_the_same_modify() -> None:
    lay = layout(empty_group_member=NOBODY)
    observed = replace(group_entry(NOBODY), member_dns=dns("ann"))
    changes = plan(lay, crew("ann"), observed)
    assert actions(changes) == ["member add", "member remove"]
    assert changes[1].members == (NOBODY,)
    (modify,) = member_modifies("member", list(changes[0].members), list(changes[1].members))
    assert modify == {"member": [(ADD, [f"uid=ann,{PEOPLE}"]), (DELETE, [NOBODY])]}


def test_the_last_member_leaving_brings_the_placeholder_back() -> None:
    lay = layout(empty_group_member=NOBODY)
    changes = plan(lay, crew(), group_entry(f"uid=ann,{PEOPLE}"))
    assert [(c.action.value, c.members) for c in changes] == [
        ("member add", (NOBODY,)),
        ("member remove", (f"uid=ann,{PEOPLE}",)),
    ]


def test_members_equal_as_the_directory_compares_them_are_no_change() -> None:
    assert member_delta([f"UID=Ann,{PEOPLE}"], [f"uid=ann,{PEOPLE}"], NOBODY) == ((), ())


def test_a_new_group_is_created_with_its_members_or_the_placeholder() -> None:
    lay = layout(empty_group_member=NOBODY)
    (empty,) = plan(lay, crew(), LdapObserved(None))
    assert dict(empty.diff)["member"] == ((), (NOBODY,))
    created = plan(lay, crew("ann", "ben"), LdapObserved(None, member_dns=dns("ann")))
    assert actions(created) == ["create", "wait"]
    assert dict(created[0].diff)["member"] == ((), (f"uid=ann,{PEOPLE}",))
    assert "ben" in (created[1].detail or "")


def test_a_group_rename_is_a_modify_dn_and_a_case_change_an_update_of_cn() -> None:
    lay = layout()
    (rename,) = plan(lay, replace(crew(), display_name="Team"), group_entry(NOBODY))
    assert rename.action is ChangeAction.RENAME
    assert rename.moved_to == f"cn=Team,ou=groups,{BASE}"
    (case,) = plan(lay, replace(crew(), display_name="CREW"), group_entry(NOBODY))
    assert (case.action, dict(case.diff)) == (ChangeAction.UPDATE, {"cn": (("Crew",), ("CREW",))})
