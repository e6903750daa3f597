"""Held mass changes and waiting work as ``scim-sync status``, the admin page and ``/metrics``
show them, on SQLite and PostgreSQL.

The brake once held 500 deletes and 382 disables while ``status`` said ``pending 0`` and
nothing else; and an age of the oldest pending change was printed with nothing pending (or as
``Nones`` when there was none).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from inbound.web.app import create_app
from reconcile.policy import MassChangeBrake
from reconcile.runner import Reconciler
from scheduler.cli import main
from scheduler.composition import Runtime
from tests.support import FakeClock, entra_user, patch_body
from tests.support.admin import login

Client = TestClient[Any]
TARGET = "identity_store"


@pytest.fixture
def held(runtime: Runtime, client: Client, clock: FakeClock, database_url: str) -> dict[str, str]:
    """Two deletes and three disables held on the identity store by a brake of 3; returns
    the environment a ``scim-sync`` command needs to see the same database."""
    ids = [client.post("/scim/v2/Users", json=entra_user(f"h{i}")).json()["id"] for i in range(5)]
    reconciler = Reconciler(
        runtime.desired,
        runtime.ledger,
        runtime.targets,
        clock=clock,
        brake=MassChangeBrake(max_count=3, max_share=1.0),
    )
    reconciler.run_once()
    for scim_id in ids[:2]:
        assert client.delete(f"/scim/v2/Users/{scim_id}").status_code == 204
    for scim_id in ids[2:]:
        off = patch_body({"op": "Replace", "path": "active", "value": "False"})
        assert client.patch(f"/scim/v2/Users/{scim_id}", json=off).status_code == 200
    clock.advance(90)
    assert reconciler.run_once().targets[0].held == 5
    return {"SCIM_SYNC_DATABASE_URL": database_url}


def test_status_shows_held_changes_with_the_command_that_approves_them(
    runtime: Runtime, held: dict[str, str]
) -> None:
    (hold,) = runtime.ledger.holds()
    runner = CliRunner()
    answered = runner.invoke(main, ["status", "--json"], env=held)
    assert answered.exit_code == 0, (answered.output, answered.exception)
    report = json.loads(answered.output)
    summary = report["targets"][TARGET]
    assert summary["held"] == 5 and summary["pending"] == 0
    assert summary["held_changes"] == {"delete": 2, "disable": 3}
    assert summary["approve_with"] == f"scim-sync holds approve {hold['id']}"
    assert summary["oldest_pending_seconds"] is None  # held is not pending

    human = runner.invoke(main, ["status"], env=held).output
    assert "pending 0" in human and "held 5" in human
    assert "2 delete(s), 3 disable(s)" in human
    assert f"approve with 'scim-sync holds approve {hold['id']}'" in human
    assert "oldest pending" not in human and "None" not in human


def test_the_oldest_pending_age_is_shown_only_while_something_is_pending(
    runtime: Runtime, client: Client, clock: FakeClock
) -> None:
    summary = runtime.ledger.summary(TARGET, clock())
    assert summary["pending"] == 0 and summary["oldest_pending_seconds"] is None
    client.post("/scim/v2/Users", json=entra_user("waiting"))
    clock.advance(42)
    summary = runtime.ledger.summary(TARGET, clock())
    assert summary["pending"] == 1 and summary["oldest_pending_seconds"] == 42
    assert summary["oldest_retrying_seconds"] is None


def test_human_status_prints_no_age_when_nothing_waits(database_url: str) -> None:
    human = CliRunner().invoke(main, ["status"], env={"SCIM_SYNC_DATABASE_URL": database_url})
    assert human.exit_code == 0, human.output
    assert f"{TARGET}: applied 0, pending 0, retrying 0, dead 0, held 0" in human.output
    assert "None" not in human.output and "oldest" not in human.output


def test_held_changes_are_a_metric_by_target_and_kind(
    browser_client: Client, held: dict[str, str]
) -> None:
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(browser_client.get("/metrics").text)
        for s in family.samples
    }
    held_changes = "scim_sync_held_changes"
    assert samples[(held_changes, (("kind", "delete"), ("target", TARGET)))] == 2
    assert samples[(held_changes, (("kind", "disable"), ("target", TARGET)))] == 3
    assert samples[("scim_sync_oldest_pending_age_seconds", (("target", TARGET),))] == 0


def test_the_page_target_table_shows_held_changes(
    runtime: Runtime, held: dict[str, str], admin_key: str
) -> None:
    with Client(create_app(runtime.services), base_url="http://scim.test") as page_client:
        login(page_client, admin_key)
        page = page_client.get("/admin").text
    table = page[page.index('id="targets"') : page.index('id="dead-letters"')]
    assert ">Held</th>" in table
    assert 'href="#holds"' in table and ">5</a>" in table
    assert "2 deletes, 3 disables" in table
