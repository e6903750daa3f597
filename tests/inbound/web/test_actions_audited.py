"""Every administrator action leaves an audit event naming who did it, through each door: the
admin API (``admin:<key id>``), the admin page (the same) and the command line
(``cli:<os user>``). On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from litestar.testing import TestClient

from inbound.auth import SecretKind
from inbound.database.audit import AuditEvent
from inbound.web.admin_actions import AdminActions
from inbound.web.app import create_app
from scheduler.cli import main
from scheduler.cli_common import cli_actor
from scheduler.composition import Runtime, compose
from scheduler.settings import Settings
from tests.support import FakeClock, entra_user
from tests.support.admin import RefusingTarget, add_target, login

Client = TestClient[Any]
OS_USER = "operator7"
OPERATOR_ACTIONS = {
    "token.issue",
    "token.revoke",
    "token.renew",
    "scim.enable",
    "scim.disable",
    "settings.interval",
    "dead_letter.retry",
    "dead_letter.skip",
    "hold.approve",
}


@pytest.fixture
def braked(database_url: str, clock: FakeClock) -> Iterator[Runtime]:
    """A runtime whose brake holds more than two deletes, with a target that refuses all."""
    settings = Settings(database_url=database_url, mass_change_max_count=2)
    runtime = compose(settings, public_url="http://scim.test", clock=clock)
    try:
        yield runtime
    finally:
        runtime.dispose()


@pytest.fixture
def client(braked: Runtime) -> Iterator[Client]:
    with TestClient(create_app(braked.services), base_url="http://scim.test") as test_client:
        yield test_client


@pytest.fixture
def admin_key(braked: Runtime) -> str:
    return braked.tokens.issue(SecretKind.ADMIN, None).secret


def admin_actor_of(runtime: Runtime, admin_key: str) -> str:
    return f"admin:{runtime.tokens.verify(admin_key, SecretKind.ADMIN)}"


def stage_work(runtime: Runtime, client: Client) -> tuple[list[str], int]:
    """Two dead letters (on the refusing target) and one open hold (three deletes held on the
    Identity Manager store); returns the dead letters' ids and the hold's id."""
    scim = {"Authorization": f"Bearer {runtime.tokens.issue(SecretKind.SCIM, None).secret}"}
    held = [
        client.post("/scim/v2/Users", json=entra_user(f"H{n}"), headers=scim).json()["id"]
        for n in range(3)
    ]
    runtime.reconciler.run_once()
    for scim_id in held:
        client.delete(f"/scim/v2/Users/{scim_id}", headers=scim)
    runtime.reconciler.run_once()
    [hold] = runtime.ledger.holds()
    add_target(runtime, RefusingTarget())
    dead = [
        client.post("/scim/v2/Users", json=entra_user(name), headers=scim).json()["id"]
        for name in ("D1", "D2")
    ]
    runtime.reconciler.run_once()
    assert set(dead) <= {d["scim_id"] for d in runtime.ledger.dead_letters()}
    return dead, int(hold["id"])


def operator_events(runtime: Runtime) -> list[AuditEvent]:
    """The operators' events, oldest first (logins and logouts left out)."""
    assert runtime.services.console is not None
    events = runtime.services.console.audit.query(limit=500)
    return [e for e in reversed(events) if e.operation in OPERATOR_ACTIONS]


def summary(events: list[AuditEvent]) -> list[tuple[str, str, str | None, str]]:
    return [(e.actor, e.operation, e.scim_id, e.outcome) for e in events]


def test_api_actions_are_audited_as_the_admin_key(
    braked: Runtime, client: Client, admin_key: str
) -> None:
    dead, hold_id = stage_work(braked, client)
    admin = {"Authorization": f"Bearer {admin_key}"}
    actor = admin_actor_of(braked, admin_key)
    provisioned = client.post("/provisioning/token", headers=admin)
    assert provisioned.status_code == 201
    issued = client.post("/api/v1/tokens", headers=admin).json()
    assert client.delete(f"/api/v1/tokens/{issued['id']}", headers=admin).status_code == 204
    assert client.delete(f"/api/v1/tokens/{issued['id']}", headers=admin).status_code == 404
    changed = client.put(
        "/api/v1/settings",
        json={"scim_enabled": False, "reconcile_interval_seconds": 90},
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    client.put("/api/v1/settings", json={"scim_enabled": True}, headers=admin)
    client.post(f"/api/v1/dead-letters/{dead[0]}/retry", headers=admin)
    client.post(f"/api/v1/dead-letters/{dead[1]}/skip", headers=admin)
    approved = client.post(f"/api/v1/holds/{hold_id}/approve", headers=admin)
    assert approved.json() == {"approved": 1}

    events = operator_events(braked)
    assert summary(events) == [
        (actor, "token.issue", None, "ok"),
        (actor, "token.issue", None, "ok"),
        (actor, "token.revoke", None, "ok"),
        (actor, "token.revoke", None, "none"),
        (actor, "scim.disable", None, "ok"),
        (actor, "settings.interval", None, "ok"),
        (actor, "scim.enable", None, "ok"),
        (actor, "dead_letter.retry", dead[0], "ok"),
        (actor, "dead_letter.skip", dead[1], "ok"),
        (actor, "hold.approve", None, "ok"),
    ]
    assert events[0].detail["token_id"] == provisioned.json()["id"]
    assert events[2].detail == {"token_id": issued["id"]}
    assert events[5].detail == {"seconds": 90.0}
    assert events[-1].detail["hold"] == hold_id
    [hold] = braked.ledger.holds(open_only=False)
    assert hold["approved_by"] == actor
    assert admin_key not in str([e.to_json() for e in events])


def test_a_refused_settings_change_changes_and_audits_nothing(
    braked: Runtime, client: Client, admin_key: str
) -> None:
    """Both fields are checked before either is applied: the request is whole or nothing."""
    refused = client.put(
        "/api/v1/settings",
        json={"scim_enabled": False, "reconcile_interval_seconds": 0},
        headers={"Authorization": f"Bearer {admin_key}"},
    )
    assert refused.status_code == 400
    assert refused.json()["scimType"] == "invalidValue"
    assert braked.live_settings.scim_enabled() is True
    assert operator_events(braked) == []


def test_page_actions_are_audited_as_the_admin_key(
    braked: Runtime, client: Client, admin_key: str
) -> None:
    dead, hold_id = stage_work(braked, client)
    actor = admin_actor_of(braked, admin_key)
    csrf = login(client, admin_key)
    client.post("/admin/tokens", data={"csrf": csrf, "label": "laptop"})
    [token] = [t for t in braked.tokens.list(SecretKind.SCIM) if t.label == "laptop"]
    client.post(f"/admin/tokens/{token.id}/revoke", data={"csrf": csrf})
    client.post("/admin/scim", data={"csrf": csrf, "enabled": "false"})
    client.post("/admin/scim", data={"csrf": csrf, "enabled": "true"})
    client.post("/admin/frequency", data={"csrf": csrf, "seconds": "120"})
    client.post(f"/admin/dead-letters/{dead[0]}/retry", data={"csrf": csrf})
    client.post(f"/admin/dead-letters/{dead[1]}/skip", data={"csrf": csrf})
    client.post(f"/admin/holds/{hold_id}/approve", data={"csrf": csrf})

    assert summary(operator_events(braked)) == [
        (actor, "token.issue", None, "ok"),
        (actor, "token.revoke", None, "ok"),
        (actor, "scim.disable", None, "ok"),
        (actor, "scim.enable", None, "ok"),
        (actor, "settings.interval", None, "ok"),
        (actor, "dead_letter.retry", dead[0], "ok"),
        (actor, "dead_letter.skip", dead[1], "ok"),
        (actor, "hold.approve", None, "ok"),
    ]
    [hold] = braked.ledger.holds(open_only=False)
    assert hold["approved_by"] == actor


class AuditWriteFailed(Exception):
    """Injected: the audit row was written, then the process failed before the COMMIT."""


def state_of(runtime: Runtime) -> dict[str, Any]:
    """Everything an administrator's action may change, as the database holds it now."""
    assert runtime.services.console is not None
    return {
        "tokens": [t.to_json() for t in runtime.tokens.list()],
        "scim_enabled": runtime.live_settings.scim_enabled(),
        "interval": runtime.live_settings.reconcile_interval(60.0),
        "dead_letters": runtime.ledger.dead_letters(),
        "holds": runtime.ledger.holds(open_only=False),
        "audit": [e.to_json() for e in runtime.services.console.audit.query(limit=500)],
    }


@pytest.mark.parametrize(
    "action",
    [
        lambda actions, _dead, _hold, token_id: actions.issue_token("x"),
        lambda actions, _dead, _hold, token_id: actions.revoke_token(token_id),
        lambda actions, _dead, _hold, _token_id: actions.set_scim_enabled(False),
        lambda actions, _dead, _hold, _token_id: actions.set_reconcile_interval(90),
        lambda actions, dead, _hold, _token_id: actions.retry_dead(dead[0]),
        lambda actions, dead, _hold, _token_id: actions.retry_dead(None),
        lambda actions, dead, _hold, _token_id: actions.skip_dead(dead[1]),
        lambda actions, _dead, hold, _token_id: actions.approve_hold(hold),
        lambda actions, _dead, _hold, _token_id: actions.approve_hold(None),
    ],
    ids=[
        "issue",
        "revoke",
        "disable",
        "interval",
        "retry",
        "retry-all",
        "skip",
        "approve",
        "approve-all",
    ],
)
def test_an_action_whose_audit_write_fails_is_undone(
    braked: Runtime,
    client: Client,
    monkeypatch: pytest.MonkeyPatch,
    action: Callable[[AdminActions, list[str], int, str], object],
) -> None:
    """The change and its audit row are one transaction: when the audit write fails, the
    change is rolled back with it, and nothing outside the database is told of it."""
    dead, hold_id = stage_work(braked, client)
    token_id = braked.tokens.issue(SecretKind.SCIM, None).id
    services = braked.services
    told: list[str] = []
    services.on_token_change = lambda: told.append("token")
    services.on_interval_change = lambda _seconds: told.append("interval")
    services.on_hold_approved = lambda: told.append("hold")
    assert services.console is not None
    audit = services.console.audit
    append = audit.append

    def append_then_fail(*args: Any, **kwargs: Any) -> None:
        append(*args, **kwargs)
        raise AuditWriteFailed

    before = state_of(braked)
    monkeypatch.setattr(audit, "append", append_then_fail)
    with pytest.raises(AuditWriteFailed):
        action(AdminActions(services, "admin:k1"), dead, hold_id, token_id)
    monkeypatch.undo()

    assert state_of(braked) == before
    assert told == []


def run_cli(database_url: str, *args: str, **settings: str) -> Any:
    env = {"SCIM_SYNC_DATABASE_URL": database_url, "LOGNAME": OS_USER, "USER": OS_USER, **settings}
    result = CliRunner().invoke(main, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result


def test_cli_actions_are_audited_as_the_os_user(
    braked: Runtime, client: Client, database_url: str
) -> None:
    dead, hold_id = stage_work(braked, client)
    actor = f"cli:{OS_USER}"
    issued = run_cli(database_url, "token", "issue", "--json")
    token_id = json.loads(issued.output)["id"]
    run_cli(database_url, "token", "revoke", token_id)
    run_cli(database_url, "scim", "disable")
    run_cli(database_url, "scim", "enable")
    run_cli(database_url, "dead-letters", "retry", dead[0])
    run_cli(database_url, "dead-letters", "skip", dead[1])
    run_cli(database_url, "holds", "approve", str(hold_id))

    events = operator_events(braked)
    assert summary(events) == [
        (actor, "token.issue", None, "ok"),
        (actor, "token.revoke", None, "ok"),
        (actor, "scim.disable", None, "ok"),
        (actor, "scim.enable", None, "ok"),
        (actor, "dead_letter.retry", dead[0], "ok"),
        (actor, "dead_letter.skip", dead[1], "ok"),
        (actor, "hold.approve", None, "ok"),
    ]
    assert events[0].detail["token_id"] == token_id
    [hold] = braked.ledger.holds(open_only=False)
    assert hold["approved_by"] == actor


def test_a_cli_token_renewal_is_audited(
    braked: Runtime, database_url: str, tmp_path: pathlib.Path
) -> None:
    sink = {"SCIM_SYNC_TOKEN_SINK": f"file:{tmp_path / 'token'}"}
    renewed = json.loads(run_cli(database_url, "token", "renew", "--json", **sink).output)
    [event] = operator_events(braked)
    assert (event.actor, event.operation, event.outcome) == (f"cli:{OS_USER}", "token.renew", "ok")
    assert event.detail["token_id"] == renewed["id"]
    assert "sst_" not in str(event.detail)


def test_the_cli_actor_falls_back_when_the_os_user_is_unknown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A container under a uid without a passwd entry and no LOGNAME/USER still audits."""

    def no_user() -> str:
        raise OSError("No username set in the environment")

    monkeypatch.setattr("getpass.getuser", no_user)
    assert cli_actor() == "cli:unknown"
    monkeypatch.setattr("getpass.getuser", lambda: "x" * 100)
    assert len(cli_actor()) == 64  # the audit column's width
