"""One contract, every target: the Identity Manager store and the LDAP directory must both keep it.

Each test stages through the SCIM app, loads the desired state the reconciler would see, and
calls the target under test directly, so the promises of ``reconcile.ports.Target`` are checked
on real services (SQLite or PostgreSQL, and slapd) with the same assertions.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from reconcile.errors import NotReadyError
from reconcile.ports import Action, Applied, Outcome, SyncStatus, Target, WorkItem
from scheduler.composition import Runtime
from tests.support import patch_body
from tests.support.scim_client import create_user as create
from tests.support.scim_client import new_group, scim_client


@pytest.fixture(params=["identity_store", "ldap"])
def target(request: pytest.FixtureRequest, ldap_runtime: Runtime) -> Target:
    return next(t for t in ldap_runtime.targets if t.name == request.param)


@pytest.fixture
def client(ldap_runtime: Runtime) -> Iterator[TestClient[Any]]:
    with scim_client(ldap_runtime) as test_client:
        yield test_client


def desired(runtime: Runtime, scim_id: str) -> Any:
    return runtime.desired.load([scim_id])[scim_id]


def applied(runtime: Runtime, target: Target, scim_id: str) -> Applied:
    """Apply and record the outcome in the ledger, as the run loop does (a target resolves
    members by the anchors the ledger keeps)."""
    state = desired(runtime, scim_id)
    result = target.apply(state, None)
    item = WorkItem(scim_id, state.kind, state.generation, False, None, 0)
    outcome = Outcome(SyncStatus.APPLIED, state.generation, result.anchor, 0, None, None)
    runtime.ledger.record(target.name, item, outcome, runtime.services.clock())
    return result


def test_create_then_repeat_is_unchanged_with_a_stable_anchor(
    target: Target, client: TestClient[Any], ldap_runtime: Runtime
) -> None:
    user = create(client, "c1")
    first = target.apply(desired(ldap_runtime, user["id"]), None)
    assert first.action is Action.CREATED and first.anchor
    again = target.apply(desired(ldap_runtime, user["id"]), first.anchor)
    assert again.action is Action.UNCHANGED and again.anchor == first.anchor


def test_rename_keeps_the_anchor(
    target: Target, client: TestClient[Any], ldap_runtime: Runtime
) -> None:
    user = create(client, "before-rename")
    first = target.apply(desired(ldap_runtime, user["id"]), None)
    client.patch(
        f"/scim/v2/Users/{user['id']}",
        json=patch_body({"op": "Replace", "path": "userName", "value": "after-rename"}),
    )
    renamed = target.apply(desired(ldap_runtime, user["id"]), first.anchor)
    assert renamed.action is Action.UPDATED and renamed.anchor == first.anchor


def test_disable_is_reported_as_such(
    target: Target, client: TestClient[Any], ldap_runtime: Runtime
) -> None:
    user = create(client, "to-disable")
    first = target.apply(desired(ldap_runtime, user["id"]), None)
    client.patch(
        f"/scim/v2/Users/{user['id']}",
        json=patch_body({"op": "Replace", "path": "active", "value": "False"}),
    )
    assert target.apply(desired(ldap_runtime, user["id"]), first.anchor).action is Action.DISABLED


def test_a_group_waits_for_a_member_then_completes(
    target: Target, client: TestClient[Any], ldap_runtime: Runtime
) -> None:
    present, absent = create(client, "present"), create(client, "absent")
    group = new_group(client, "Contract")
    client.patch(
        f"/scim/v2/Groups/{group['id']}",
        json=patch_body(
            {
                "op": "Add",
                "path": "members",
                "value": [{"value": present["id"]}, {"value": absent["id"]}],
            }
        ),
    )
    applied(ldap_runtime, target, present["id"])
    with pytest.raises(NotReadyError, match="absent"):
        target.apply(desired(ldap_runtime, group["id"]), None)
    applied(ldap_runtime, target, absent["id"])
    state = ldap_runtime.ledger.states_of(group["id"], [target.name])[0]
    done = target.apply(desired(ldap_runtime, group["id"]), state.anchor)
    assert done.action in (Action.CREATED, Action.UPDATED)


def test_delete_then_repeat_is_unchanged(
    target: Target, client: TestClient[Any], ldap_runtime: Runtime
) -> None:
    user = create(client, "deleted")
    first = target.apply(desired(ldap_runtime, user["id"]), None)
    assert client.delete(f"/scim/v2/Users/{user['id']}").status_code == 204
    tombstone = desired(ldap_runtime, user["id"])
    assert target.apply(tombstone, first.anchor).action is Action.DELETED
    assert target.apply(tombstone, first.anchor).action is Action.UNCHANGED
