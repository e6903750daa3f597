"""The reconciler applying staged SCIM changes to the Identity Manager store (real databases)."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import func, insert, select

from connectors.identity_store.tables import identities
from connectors.identity_store.target import IdentityStoreTarget
from inbound.database.tables import resources, sync_state
from reconcile.errors import NotReadyError, PermanentTargetError
from reconcile.model import DesiredIdentity
from reconcile.ports import Action
from scheduler.composition import Runtime
from scheduler.settings import SettingsError, load_settings
from tests.support import ENTERPRISE, patch_body
from tests.support.scim_client import create_user as create
from tests.support.scim_client import new_group


def run(runtime: Runtime) -> dict[str, int]:
    report = runtime.reconciler.run_once()
    return report.targets[0].actions


def test_user_lifecycle_lands_in_the_store(client: TestClient[Any], runtime: Runtime) -> None:
    user = create(client, "E1001")
    assert run(runtime) == {"created": 1}
    record = runtime.identity_record("E1001")
    assert record is not None
    assert record["email"] == "e1001@example.com"
    assert record["active"] is True
    assert record["given_name"] == "Given" and record["family_name"] == "Family"
    assert record["department"] == "Research" and record["employee_number"] == "E1001"
    assert record["sync"]["identity_store"]["status"] == "applied"
    assert run(runtime) == {}  # nothing due: level-triggered, no duplicate work

    client.patch(
        f"/scim/v2/Users/{user['id']}",
        json=patch_body({"op": "Replace", "path": "active", "value": "False"}),
    )
    assert run(runtime) == {"disabled": 1}
    assert runtime.identity_record("E1001")["active"] is False  # type: ignore[index]

    assert client.delete(f"/scim/v2/Users/{user['id']}").status_code == 204
    assert run(runtime) == {"deleted": 1}
    assert runtime.identity_record("E1001") is None
    with runtime.database_engine.connect() as conn:  # the tombstone is gone once observed
        assert conn.execute(select(func.count()).select_from(resources)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(sync_state)).scalar() == 0


def test_group_membership_and_entra_default_remove(
    client: TestClient[Any], runtime: Runtime
) -> None:
    a, b = create(client, "ua"), create(client, "ub")
    group = new_group(client, "Staff")
    client.patch(
        f"/scim/v2/Groups/{group['id']}",
        json=patch_body(
            {"op": "Add", "path": "members", "value": [{"value": a["id"]}, {"value": b["id"]}]}
        ),
    )
    run(runtime)
    assert runtime.identity_record("ua")["groups"] == ["Staff"]  # type: ignore[index]
    assert runtime.identity_record("ub")["groups"] == ["Staff"]  # type: ignore[index]
    client.patch(
        f"/scim/v2/Groups/{group['id']}",
        json=patch_body({"op": "Remove", "path": "members", "value": [{"value": a["id"]}]}),
    )
    assert run(runtime) == {"updated": 1}
    assert runtime.identity_record("ua")["groups"] == []  # type: ignore[index]
    assert runtime.identity_record("ub")["groups"] == ["Staff"]  # type: ignore[index]


def test_rename_moves_the_key_and_references_follow(
    client: TestClient[Any], runtime: Runtime
) -> None:
    boss = create(client, "boss")
    worker = create(client, "worker")
    client.patch(
        f"/scim/v2/Users/{worker['id']}",
        json=patch_body({"op": "Add", "path": f"{ENTERPRISE}:manager", "value": boss["id"]}),
    )
    group = new_group(client, "Leads")
    client.patch(
        f"/scim/v2/Groups/{group['id']}",
        json=patch_body({"op": "Add", "path": "members", "value": [{"value": boss["id"]}]}),
    )
    run(runtime)
    assert runtime.identity_record("worker")["manager_user_id"] == "boss"  # type: ignore[index]
    client.patch(
        f"/scim/v2/Users/{boss['id']}",
        json=patch_body({"op": "Replace", "path": "userName", "value": "chief"}),
    )
    assert run(runtime) == {"updated": 1}
    assert runtime.identity_record("boss") is None
    chief = runtime.identity_record("chief")
    assert chief is not None and chief["groups"] == ["Leads"] and chief["scim_id"] == boss["id"]
    assert runtime.identity_record("worker")["manager_user_id"] == "chief"  # type: ignore[index]


def test_delete_then_recreate_the_same_user_id(client: TestClient[Any], runtime: Runtime) -> None:
    first = create(client, "again")
    run(runtime)
    client.delete(f"/scim/v2/Users/{first['id']}")
    second = create(client, "again", displayName="Second")
    assert run(runtime) == {"deleted": 1, "created": 1}
    record = runtime.identity_record("again")
    assert record is not None and record["scim_id"] == second["id"]
    assert record["display_name"] == "Second"


def test_reapplying_after_a_crash_is_harmless(client: TestClient[Any], runtime: Runtime) -> None:
    """The target applied, the process died before the ledger recorded it: next run is a no-op."""
    user = create(client, "crashy")
    desired = runtime.desired.load([user["id"]])[user["id"]]
    runtime.targets[0].apply(desired, None)  # applied, never recorded
    assert run(runtime) == {"unchanged": 1}
    assert runtime.identity_record("crashy") is not None


def test_a_burst_of_changes_coalesces_into_one_apply(
    client: TestClient[Any], runtime: Runtime
) -> None:
    user = create(client, "bursty")
    for title in ("a", "b", "c", "d"):
        client.patch(
            f"/scim/v2/Users/{user['id']}",
            json=patch_body({"op": "replace", "path": "title", "value": title}),
        )
    assert run(runtime) == {"created": 1}
    assert runtime.identity_record("bursty")["title"] == "d"  # type: ignore[index]


def test_group_waits_for_a_member_not_yet_in_the_store(
    client: TestClient[Any], runtime: Runtime
) -> None:
    """A member whose user is not yet applied: the group keeps what it can and waits."""
    present, absent = create(client, "here"), create(client, "notyet")
    group = new_group(client, "Waiting")
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
    target = runtime.targets[0]
    target.apply(runtime.desired.load([present["id"]])[present["id"]], None)
    with pytest.raises(NotReadyError, match="notyet"):
        target.apply(runtime.desired.load([group["id"]])[group["id"]], None)
    assert runtime.identity_record("here")["groups"] == ["Waiting"]  # type: ignore[index]
    report = runtime.reconciler.run_once().targets[0]
    assert report.waiting == 0 and report.dead == 0 and report.retrying == 0
    assert runtime.identity_record("notyet")["groups"] == ["Waiting"]  # type: ignore[index]


def test_status_counts(client: TestClient[Any], runtime: Runtime, clock: Any) -> None:
    create(client, "s1")
    create(client, "s2")
    clock.advance(30)
    summary = runtime.ledger.summary("identity_store", clock())
    assert summary["pending"] == 2 and summary["applied"] == 0
    assert summary["oldest_pending_seconds"] == 30
    run(runtime)
    summary = runtime.ledger.summary("identity_store", clock())
    assert summary["applied"] == 2 and summary["pending"] == 0
    assert summary["oldest_pending_seconds"] is None


def test_sync_state_is_visible_on_scim_get(client: TestClient[Any], runtime: Runtime) -> None:
    user = create(client, "visible")
    sync = "urn:scim-sync:schemas:extension:sync:1.0:Sync"
    asked = {"attributes": f"userName,{sync}:targets"}
    assert sync not in client.get(f"/scim/v2/Users/{user['id']}").json()  # returned on request
    pending = client.get(f"/scim/v2/Users/{user['id']}", params=asked).json()
    assert sync in pending["schemas"]
    assert pending[sync]["targets"] == [
        {
            "target": "identity_store",
            "status": "pending",
            "observedGeneration": 0,
            "desiredGeneration": 1,
            "attempts": 0,
        }
    ]
    run(runtime)
    applied = client.get(f"/scim/v2/Users/{user['id']}", params=asked).json()[sync]["targets"][0]
    assert applied["status"] == "applied" and applied["observedGeneration"] == 1
    listed = client.get("/scim/v2/Users", params={"filter": 'userName eq "visible"', **asked})
    assert listed.json()["Resources"][0][sync]["targets"][0]["status"] == "applied"
    schema = client.get(f"/scim/v2/Schemas/{sync}").json()
    assert schema["attributes"][0]["name"] == "targets"
    assert schema["attributes"][0]["mutability"] == "readOnly"
    full = client.get(f"/scim/v2/Users/{user['id']}").json()
    echoed = client.put(
        f"/scim/v2/Users/{user['id']}",
        json={**applied_body(full), sync: pending[sync], "title": "x"},
    )
    assert echoed.status_code == 200  # a client may send the read-only state back; it is ignored
    after = client.get(f"/scim/v2/Users/{user['id']}", params=asked).json()
    assert after[sync]["targets"][0]["desiredGeneration"] == 2


def applied_body(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k not in ("id", "meta")}


# ---- adoption of records scim-sync did not make (SCIM_SYNC_IDM_ADOPT) ------------------


def store_target(runtime: Runtime, adopt: str = "unanchored") -> IdentityStoreTarget:
    return IdentityStoreTarget(
        runtime.idm_engine, clock=runtime.services.clock, anchors=runtime.anchors, adopt=adopt
    )


def existing_record(runtime: Runtime, user_id: str, scim_id: str | None) -> None:
    now = runtime.services.clock()
    with runtime.idm_engine.begin() as conn:
        conn.execute(
            insert(identities).values(
                user_id=user_id, scim_id=scim_id, active=True, created_at=now, updated_at=now
            )
        )


def staged(runtime: Runtime, scim_id: str) -> Any:
    return runtime.desired.load([scim_id])[scim_id]


def test_a_record_without_an_anchor_is_adopted_unless_the_policy_says_never(
    client: TestClient[Any], runtime: Runtime
) -> None:
    existing_record(runtime, "legacy", None)
    user = create(client, "legacy")
    with pytest.raises(PermanentTargetError, match="SCIM_SYNC_IDM_ADOPT=never"):
        store_target(runtime, "never").apply(staged(runtime, user["id"]), None)
    assert runtime.identity_record("legacy")["scim_id"] is None  # type: ignore[index]
    assert run(runtime) == {"updated": 1}  # the default policy: adopted
    assert runtime.identity_record("legacy")["scim_id"] == user["id"]  # type: ignore[index]


def test_a_record_anchored_to_a_vanished_resource_is_adopted_only_anywhere(
    client: TestClient[Any], runtime: Runtime
) -> None:
    existing_record(runtime, "orphaned", "0190a0a0-0000-7000-8000-000000000000")
    user = create(client, "orphaned")
    with pytest.raises(PermanentTargetError, match="no staged resource made"):
        store_target(runtime).apply(staged(runtime, user["id"]), None)
    applied = store_target(runtime, "anywhere").apply(staged(runtime, user["id"]), None)
    assert applied.action is Action.UPDATED
    assert runtime.identity_record("orphaned")["scim_id"] == user["id"]  # type: ignore[index]


@pytest.mark.parametrize("adopt", ["unanchored", "anywhere"])
def test_another_staged_users_record_is_never_taken(
    client: TestClient[Any], runtime: Runtime, adopt: str
) -> None:
    alice = create(client, "alice")
    run(runtime)
    intruder = DesiredIdentity(
        scim_id="0190a0a0-0000-7000-8000-00000000beef", generation=1, user_id="alice"
    )
    with pytest.raises(
        PermanentTargetError, match=rf"collides .* with user 'alice' \(id {alice['id']}\)"
    ):
        store_target(runtime, adopt).apply(intruder, None)
    assert runtime.identity_record("alice")["scim_id"] == alice["id"]  # type: ignore[index]


def test_a_rename_onto_another_staged_users_record_is_a_dead_letter(
    client: TestClient[Any], runtime: Runtime
) -> None:
    alice, bob = create(client, "alice"), create(client, "bob")
    run(runtime)
    renamed = DesiredIdentity(scim_id=bob["id"], generation=5, user_id="alice")
    with pytest.raises(PermanentTargetError, match=f"with user 'alice' \\(id {alice['id']}\\)"):
        store_target(runtime).apply(renamed, None)
    assert runtime.identity_record("bob")["scim_id"] == bob["id"]  # type: ignore[index]


def test_the_adoption_policy_is_checked_at_start() -> None:
    with pytest.raises(SettingsError, match="SCIM_SYNC_IDM_ADOPT must be"):
        load_settings(env={"SCIM_SYNC_IDM_ADOPT": "always"})
    assert load_settings(env={}).idm_adopt == "unanchored"
