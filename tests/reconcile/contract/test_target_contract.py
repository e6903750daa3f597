"""The target contract, the same cases for every target: what ``--dry-run`` lists is exactly what
the run then does, and a second look finds nothing left to do.

Each case stages through the SCIM app, takes the dry run (:meth:`FullReconciler.preview`, what
``scim-sync reconcile --dry-run`` prints), runs the run loop once (for LDAP with its batch
read-ahead), and holds the changes the applies carried out against the dry run, change for
change: the same actions, addresses, attribute values and members.
"""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from connectors.ldap.names import parent_dn, same_dn
from reconcile.changes import Change, ChangeAction
from reconcile.errors import ClashError, NotReadyError
from reconcile.model import DesiredIdentity, ResourceKind
from reconcile.ports import Action, Target
from tests.support import ENTERPRISE, patch_body
from tests.support.contract_harness import Harness
from tests.support.scim_client import create_user as create
from tests.support.scim_client import new_group


def actions(changes: list[Change]) -> list[str]:
    return [c.action.value for c in changes]


def ran_as_planned(harness: Harness, target: Target[Any] | None = None) -> list[Change]:
    """Dry run, then run: the applies carried out exactly the listed changes; then nothing is
    due and a repeat of the dry run is empty. (Within one phase: a dry run cannot foresee
    what the users applied first will change for the groups planned after them.)"""
    planned = harness.dry_run(target)
    report, done = harness.run(target)
    assert by_resource(done) == by_resource(planned), (planned, done)
    assert report.dead == report.retrying == report.waiting == 0, report
    assert harness.dry_run(target) == []
    return planned


def by_resource(changes: list[Change]) -> dict[str | None, list[Change]]:
    """Each resource's changes in their order (applies of different resources may run at
    the same time, so they may finish in any order)."""
    out: dict[str | None, list[Change]] = {}
    for change in changes:
        out.setdefault(change.scim_id, []).append(change)
    return out


def settle(harness: Harness) -> None:
    """Run until nothing is due (a group or a report waits for the users of the same run,
    and is looked at again a few seconds later)."""
    for _ in range(3):
        report, _ = harness.run()
        assert report.dead == report.retrying == 0, report
        if not report.waiting and not harness.dry_run():
            return
        harness.clock.advance(60)
    raise AssertionError(f"still due after three runs: {harness.dry_run()}")


def patch(client: TestClient[Any], kind: str, scim_id: str, *operations: dict[str, Any]) -> None:
    response = client.patch(f"/scim/v2/{kind}/{scim_id}", json=patch_body(*operations))
    assert response.status_code in (200, 204), response.text


def test_create_then_update_then_repeat(harness: Harness) -> None:
    with harness.client() as client:
        user = create(client, "c1")
        created = ran_as_planned(harness)
        assert actions(created) == ["create"] and created[0].scim_id == user["id"]
        anchor = harness.anchor(user["id"])
        assert anchor
        again = harness.apply_again(user["id"])
        assert (again.action, again.anchor, again.changes) == (Action.UNCHANGED, anchor, ())

        patch(client, "Users", user["id"], {"op": "Replace", "path": "title", "value": "Lead"})
        (update,) = ran_as_planned(harness)
        assert update.action is ChangeAction.UPDATE and "Lead" in repr(update.diff)
        assert harness.anchor(user["id"]) == anchor
        assert harness.apply_again(user["id"]).action is Action.UNCHANGED


def test_rename_keeps_the_anchor_and_the_memberships(harness: Harness) -> None:
    with harness.client() as client:
        user = create(client, "before")
        group = new_group(client, "Renamers")
        add = {"op": "Add", "path": "members", "value": [{"value": user["id"]}]}
        patch(client, "Groups", group["id"], add)
        settle(harness)
        anchor = harness.anchor(user["id"])

        patch(client, "Users", user["id"], {"op": "Replace", "path": "userName", "value": "after"})
        # the name an entry is named by: the userName (uid=) or, in AD, the display name (CN=)
        patch(
            client, "Users", user["id"], {"op": "Replace", "path": "displayName", "value": "After"}
        )
        renamed = ran_as_planned(harness)
        assert ChangeAction.RENAME in [c.action for c in renamed]
        assert all(c.name == "after" for c in renamed)
        assert harness.anchor(user["id"]) == anchor
        assert harness.plan_of(group["id"]) == []  # its member reference followed the rename


def test_disable_then_enable(harness: Harness) -> None:
    with harness.client() as client:
        user = create(client, "toggled")
        ran_as_planned(harness)
        patch(client, "Users", user["id"], {"op": "Replace", "path": "active", "value": "False"})
        assert actions(ran_as_planned(harness)) == ["disable"]
        assert harness.run()[0].actions == {}  # nothing due any more

        patch(client, "Users", user["id"], {"op": "Replace", "path": "active", "value": "True"})
        planned = harness.dry_run()
        report, _ = harness.run()
        assert actions(planned) == ["enable"] and report.actions == {"updated": 1}


def test_a_disable_is_counted_as_one(harness: Harness) -> None:
    """The mass-change brake counts what the ledger records: a disable is a disable."""
    with harness.client() as client:
        user = create(client, "counted")
        harness.run()
        patch(client, "Users", user["id"], {"op": "Replace", "path": "active", "value": "False"})
        report, _ = harness.run()
        assert report.actions == {"disabled": 1}


def test_delete_then_repeat(harness: Harness) -> None:
    with harness.client() as client:
        user = create(client, "deleted")
        ran_as_planned(harness)
        anchor = harness.anchor(user["id"])
        assert client.delete(f"/scim/v2/Users/{user['id']}").status_code == 204
        tombstone = harness.desired(user["id"])
        planned = harness.dry_run()
        report, done = harness.run()
        assert actions(planned) == ["delete"] and by_resource(done) == by_resource(planned)
        assert report.actions == {"deleted": 1}
        again = harness.target.apply(tombstone, anchor)
        assert (again.action, again.changes) == (Action.UNCHANGED, ())


def test_members_added_and_removed(harness: Harness) -> None:
    with harness.client() as client:
        ann, ben = create(client, "ann"), create(client, "ben")
        group = new_group(client, "Crew")
        add = {"op": "Add", "path": "members", "value": [{"value": ann["id"]}]}
        patch(client, "Groups", group["id"], add)
        settle(harness)
        assert ben["id"]

        patch(
            client,
            "Groups",
            group["id"],
            {"op": "Add", "path": "members", "value": [{"value": ben["id"]}]},
            {"op": "Remove", "path": f'members[value eq "{ann["id"]}"]'},
        )
        planned = ran_as_planned(harness)
        assert {ChangeAction.MEMBER_ADD, ChangeAction.MEMBER_REMOVE} <= {c.action for c in planned}
        added = next(c for c in planned if c.action is ChangeAction.MEMBER_ADD)
        removed = next(c for c in planned if c.action is ChangeAction.MEMBER_REMOVE)
        assert any("ben" in m for m in added.members)
        assert any("ann" in m for m in removed.members)

        patch(client, "Groups", group["id"], {"op": "Remove", "path": "members"})
        emptied = ran_as_planned(harness)
        assert ChangeAction.MEMBER_REMOVE in [c.action for c in emptied]


def test_a_group_waits_for_a_member_the_target_does_not_hold(harness: Harness) -> None:
    """The plan ends with a wait; the apply writes the rest, then waits; what is left to do
    is the wait alone; once the member is there the group completes."""
    with harness.client() as client:
        early = create(client, "early")
        ran_as_planned(harness)
        late = create(client, "late")
        group = new_group(client, "Waiting")
        members = [{"value": early["id"]}, {"value": late["id"]}]
        patch(client, "Groups", group["id"], {"op": "Add", "path": "members", "value": members})
    desired = harness.desired(group["id"])
    planned = harness.target.plan(desired, harness.target.observe([(desired, None)])[0])
    assert planned[-1].action is ChangeAction.WAIT and "late" in (planned[-1].detail or "")
    with pytest.raises(NotReadyError, match="late") as waited:
        harness.target.apply(desired, None)
    left = harness.target.plan(desired, harness.target.observe([(desired, waited.value.anchor)])[0])
    assert left == planned[-1:]
    settle(harness)
    assert harness.plan_of(group["id"]) == []


def test_a_group_renamed(harness: Harness) -> None:
    with harness.client() as client:
        group = new_group(client, "Old name")
        ran_as_planned(harness)
        anchor = harness.anchor(group["id"])
        patch(
            client,
            "Groups",
            group["id"],
            {"op": "Replace", "path": "displayName", "value": "New name"},
        )
        planned = ran_as_planned(harness)
        assert planned and all(c.name == "New name" for c in planned)
        assert harness.anchor(group["id"]) == anchor


def test_an_entry_another_resource_holds_is_never_adopted(harness: Harness) -> None:
    """A name the target takes for another staged resource's: the plan says clash, the apply
    refuses with the same reason, and the holder's entry is left as it was."""
    with harness.client() as client:
        alice = create(client, "alice")
        ran_as_planned(harness)
    staged = harness.desired(alice["id"])
    assert isinstance(staged, DesiredIdentity)
    intruder = DesiredIdentity(
        "intruder-id", 1, harness.lookalike("alice"), email="intruder@example.com", title="Thief"
    )
    planned, error = harness.refused(intruder)
    assert actions(planned) == ["clash"] and isinstance(error, ClashError)
    assert planned[0].detail == error.reason and f"(id {alice['id']})" in error.reason
    assert harness.plan_of(alice["id"]) == []  # untouched


def test_a_changed_placement_moves_the_entry_and_its_references(harness: Harness) -> None:
    """A desired DN elsewhere (as a placement rule produces): a modify-DN, with the group
    membership and the manager reference following."""
    if harness.relocate is None:
        pytest.skip(f"the {harness.name} target does not place entries in containers")
    with harness.client() as client:
        boss = create(client, "boss")
        enterprise = {"employeeNumber": "report", "manager": {"value": boss["id"]}}
        report = create(client, "report", **{ENTERPRISE: enterprise})
        group = new_group(client, "Movers")
        add = {"op": "Add", "path": "members", "value": [{"value": boss["id"]}]}
        patch(client, "Groups", group["id"], add)
    settle(harness)
    moved = harness.relocate()
    clock = harness.runtime.services.clock
    try:
        harness.runtime.ledger.mark_drifted(harness.name, [boss["id"]], clock())
        (move,) = ran_as_planned(harness, moved)
        assert (move.action, move.name) == (ChangeAction.MOVE, "boss")
        staff = f"ou=staff,{harness.runtime.settings.ldap.base_dn}"
        assert move.moved_to is not None and same_dn(parent_dn(move.moved_to), staff)

        def plan_now(scim_id: str) -> list[Change]:
            state = harness.desired(scim_id)
            return moved.plan(state, moved.observe([(state, harness.anchor(scim_id))])[0])

        assert plan_now(group["id"]) == []  # the membership followed
        assert actions(plan_now(report["id"])) == ["move"]  # its manager followed too
        harness.runtime.ledger.mark_drifted(harness.name, [report["id"]], clock())
        assert actions(ran_as_planned(harness, moved)) == ["move"]
    finally:
        moved.close()


def test_the_full_reconcile_finds_a_missing_entry_and_an_orphan(harness: Harness) -> None:
    """Through the contract alone: an entry removed behind scim-sync's back is planned as a
    create and repaired by the next run; one that no staged resource accounts for is an
    orphan, listed as a delete and removed."""
    with harness.client() as client:
        kept, lost = create(client, "kept"), create(client, "lost")
        ran_as_planned(harness)
    target = harness.target
    anchor = harness.anchor(lost["id"])
    (found,) = [f for f in target.inventory(ResourceKind.USER) if f.anchor == anchor]
    assert target.remove_orphan(found).action is Action.DELETED
    ghost = DesiredIdentity("ghost-id", 1, "ghost", email="ghost@example.com")
    assert target.apply(ghost, None).action is Action.CREATED  # made by no staged resource

    full = harness.full()
    (report,) = full.run(dry_run=True, only=[harness.name])
    assert (report.missing, report.orphans, report.drifted) == (1, 1, 0), report
    assert sorted((c.action.value, c.name) for c in report.changes) == [
        ("create", "lost"),
        ("delete", "ghost"),
    ]
    (report,) = full.run(only=[harness.name], allow_mass_delete=True)
    assert (report.missing, report.orphans_removed) == (1, 1), report
    planned = ran_as_planned(harness)
    assert [(c.action.value, c.name) for c in planned] == [("create", "lost")]
    (report,) = full.run(dry_run=True, only=[harness.name])
    assert report.changes == [] and report.compared >= 2 and kept["id"]
