"""Full (drift) reconciliation and dry-run plans against the Identity Manager store."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient
from sqlalchemy import delete, insert, update

from connectors.identity_store.tables import group_members, identities
from inbound.database.locks import JobLock
from reconcile.full import FullReconciler
from reconcile.policy import MassChangeBrake
from scheduler.composition import Runtime
from tests.support import FakeClock, patch_body
from tests.support.scim_client import create_user as create
from tests.support.scim_client import new_group

TARGET = "identity_store"


def setup(client: TestClient[Any], runtime: Runtime) -> dict[str, Any]:
    a, b = create(client, "alpha"), create(client, "beta")
    group = new_group(client, "Crew")
    client.patch(
        f"/scim/v2/Groups/{group['id']}",
        json=patch_body({"op": "add", "path": "members", "value": [{"value": a["id"]}]}),
    )
    runtime.reconciler.run_once()
    return {"a": a, "b": b, "group": group}


def actions(runtime: Runtime, dry_run: bool) -> list[tuple[str, str]]:
    reports = runtime.full.run(dry_run=dry_run)
    return sorted((c.action, c.name) for r in reports for c in r.changes)


def test_drift_is_planned_then_repaired(
    client: TestClient[Any], runtime: Runtime, clock: FakeClock
) -> None:
    crew = setup(client, runtime)["group"]["id"]
    with runtime.idm_engine.begin() as conn:
        conn.execute(
            update(identities).where(identities.c.user_id == "alpha").values(title="edited by hand")
        )
        conn.execute(delete(identities).where(identities.c.user_id == "beta"))
        conn.execute(insert(group_members).values(group_scim_id=crew, user_id="stranger"))
        conn.execute(
            insert(identities).values(
                user_id="ghost",
                scim_id="ghost-id",
                active=True,
                created_at=clock(),
                updated_at=clock(),
            )
        )
        conn.execute(
            insert(identities).values(
                user_id="legacy", scim_id=None, active=True, created_at=clock(), updated_at=clock()
            )
        )
    planned = actions(runtime, dry_run=True)
    assert planned == [
        ("create", "beta"),
        ("delete", "ghost"),
        ("member remove", "Crew"),
        ("update", "alpha"),
    ]
    reports = runtime.full.run(dry_run=True)
    update_change = next(c for c in reports[0].changes if c.action == "update")
    assert update_change.diff == {"title": ("edited by hand", "Engineer")}
    assert actions(runtime, dry_run=True) == planned  # the dry run changed nothing

    runtime.full.run()
    runtime.reconciler.run_once()
    assert actions(runtime, dry_run=True) == []
    assert runtime.identity_record("alpha")["title"] == "Engineer"  # type: ignore[index]
    assert runtime.identity_record("beta") is not None
    assert runtime.identity_record("ghost") is None
    assert runtime.identity_record("legacy") is not None  # not ours: never an orphan
    assert runtime.identity_record("alpha")["groups"] == ["Crew"]  # type: ignore[index]


def test_mass_orphan_removal_is_held(
    client: TestClient[Any], runtime: Runtime, clock: FakeClock
) -> None:
    setup(client, runtime)
    with runtime.idm_engine.begin() as conn:
        conn.execute(
            insert(identities),
            [
                {
                    "user_id": f"o{i}",
                    "scim_id": f"orphan-{i}",
                    "active": True,
                    "created_at": clock(),
                    "updated_at": clock(),
                }
                for i in range(6)
            ],
        )
    full = FullReconciler(
        runtime.desired,
        runtime.ledger,
        runtime.targets,
        anchors=runtime.anchors,
        clock=clock,
        brake=MassChangeBrake(max_count=5),
    )
    report = full.run()[0]
    assert report.orphans == 6 and report.orphans_held and report.orphans_removed == 0
    assert runtime.identity_record("o0") is not None
    report = full.run(allow_mass_delete=True)[0]
    assert report.orphans_removed == 6
    assert runtime.identity_record("o0") is None


def test_preview_shows_what_the_next_run_does(client: TestClient[Any], runtime: Runtime) -> None:
    setup(client, runtime)
    newcomer = create(client, "gamma")
    alpha = runtime.identity_record("alpha")
    assert alpha is not None
    client.patch(
        f"/scim/v2/Users/{alpha['scim_id']}",
        json=patch_body({"op": "Replace", "path": "active", "value": "False"}),
    )
    reports = runtime.full.preview()
    planned = sorted((c.action, c.name) for c in reports[0].changes)
    assert planned == [("create", "gamma"), ("disable", "alpha")]
    assert runtime.identity_record("gamma") is None
    assert newcomer["id"]


def test_singleton_lock(runtime: Runtime, clock: FakeClock) -> None:
    first = JobLock(runtime.database_engine, "one", clock=clock)
    second = JobLock(runtime.database_engine, "two", clock=clock)
    with first.hold("job") as mine:
        assert mine
        with second.hold("job") as theirs:
            assert not theirs
    with second.hold("job") as theirs:
        assert theirs
