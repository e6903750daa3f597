"""``scim-sync entra``, ``status`` and ``identities get`` against a loopback Graph and a real
database: what an operator types when Entra's job is in trouble."""

from __future__ import annotations

import getpass
import json
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from litestar.testing import TestClient

from scheduler.cli import main
from scheduler.composition import Runtime
from tests.support import FakeClock, entra_user
from tests.support import fake_graph as graph
from tests.support.loopback import Loopback, Reply

RESTART_PATH = f"{graph.JOB_PATH}/restart"


@pytest.fixture
def env(database_url: str, server: Loopback) -> dict[str, str]:
    settings = graph.settings(server.url)
    return {
        "SCIM_SYNC_DATABASE_URL": database_url,
        "SCIM_SYNC_GRAPH_TENANT_ID": settings.tenant_id,
        "SCIM_SYNC_GRAPH_CLIENT_ID": settings.client_id,
        "SCIM_SYNC_GRAPH_CLIENT_SECRET": settings.client_secret,
        "SCIM_SYNC_GRAPH_SERVICE_PRINCIPAL_ID": settings.service_principal_id,
        "SCIM_SYNC_GRAPH_JOB_ID": settings.job_id,
        "SCIM_SYNC_GRAPH_AUTHORITY_URL": settings.authority_url,
        "SCIM_SYNC_GRAPH_API_URL": settings.api_url,
    }


def test_poll_then_status_shows_the_quarantine(
    server: Loopback, env: dict[str, str], clock: FakeClock
) -> None:
    runner = CliRunner()
    server.route(
        "GET", graph.JOB_PATH, Reply(200, graph.job("Quarantine", quarantined_since=clock.now))
    )
    graph.serve_logs(server, [[graph.entry("e1", clock.now, status="failure", error_code="E")]])
    polled = runner.invoke(main, ["entra", "poll", "--json"], env=env)
    assert polled.exit_code == 0, polled.output
    assert json.loads(polled.output)["entries_added"] == 1

    status = json.loads(runner.invoke(main, ["status", "--json"], env=env).output)
    assert status["entra"]["state"] == "quarantine" and status["entra"]["quarantined"] is True
    assert status["entra"]["job_id"] == graph.JOB
    human = runner.invoke(main, ["status"], env=env).output
    assert f"entra job {graph.JOB}: quarantine (reason EncounteredQuarantineException" in human


def test_poll_exits_1_and_names_the_missing_permission(
    server: Loopback, env: dict[str, str]
) -> None:
    server.route("GET", graph.JOB_PATH, graph.forbidden("Synchronization.Read.All"))
    graph.serve_logs(server, [[]])
    polled = CliRunner().invoke(main, ["entra", "poll"], env=env)
    assert polled.exit_code == 1
    assert "job: not permitted: needs Synchronization.Read.All" in polled.output


def test_status_without_graph_says_entra_is_not_watched(database_url: str) -> None:
    env = {"SCIM_SYNC_DATABASE_URL": database_url}
    status = json.loads(CliRunner().invoke(main, ["status", "--json"], env=env).output)
    assert status["entra"] is None
    assert "entra: not watched" in CliRunner().invoke(main, ["status"], env=env).output
    refused = CliRunner().invoke(main, ["entra", "restart", "--yes"], env=env)
    assert refused.exit_code == 1 and "SCIM_SYNC_GRAPH_TENANT_ID" in refused.output


def test_restart_asks_calls_graph_and_is_audited(
    runtime: Runtime, server: Loopback, env: dict[str, str]
) -> None:
    runner = CliRunner()
    server.route("POST", RESTART_PATH, Reply(204))
    declined = runner.invoke(main, ["entra", "restart"], env=env, input="n\n")
    assert declined.exit_code == 1 and "Aborted" in declined.output
    assert ("POST", RESTART_PATH) not in server.calls()

    done = runner.invoke(main, ["entra", "restart", "--scope", "full", "--yes"], env=env)
    assert done.exit_code == 0, done.output
    restart = next(r for r in server.requests if r.path == RESTART_PATH)
    assert restart.json() == {"criteria": {"resetScope": "Watermark,Escrows,QuarantineState"}}
    assert restart.headers["authorization"] == "Bearer graph-access"

    quarantine_only = runner.invoke(main, ["entra", "restart"], env=env, input="y\n")
    assert quarantine_only.exit_code == 0, quarantine_only.output
    assert server.requests[-1].json() == {"criteria": {"resetScope": "QuarantineState"}}

    server.route("POST", RESTART_PATH, graph.forbidden("Synchronization.ReadWrite.All"))
    refused = runner.invoke(main, ["entra", "restart", "--yes"], env=env)
    assert refused.exit_code == 1
    assert "not permitted: needs Synchronization.ReadWrite.All" in refused.output

    assert runtime.services.console is not None
    events = [e for e in runtime.services.console.audit.query() if e.operation == "entra restart"]
    assert [(e.actor, e.outcome, e.detail["scope"]) for e in events] == [
        (f"cli:{getpass.getuser()}", "failed", "quarantine"),
        (f"cli:{getpass.getuser()}", "ok", "quarantine"),
        (f"cli:{getpass.getuser()}", "ok", "full"),
    ]


def test_identities_get_json_has_the_entra_key(
    runtime: Runtime,
    client: TestClient[Any],
    server: Loopback,
    env: dict[str, str],
    clock: FakeClock,
) -> None:
    scim_id = client.post("/scim/v2/Users", json=entra_user("E1001")).json()["id"]
    runtime.reconciler.run_once()
    server.route("GET", graph.JOB_PATH, Reply(200, graph.job()))
    graph.serve_logs(
        server,
        [
            [
                graph.entry("ok", clock.now, action="create", target_id=scim_id),
                graph.entry(
                    "lost",
                    clock.now + timedelta(hours=1),
                    status="failure",
                    target_id=scim_id,
                    error_code="SystemForCrossDomainIdentityManagementServiceUnavailable",
                ),
            ]
        ],
    )
    runner = CliRunner()
    assert runner.invoke(main, ["entra", "poll"], env=env).exit_code == 0
    shown = runner.invoke(main, ["identities", "get", "E1001", "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    entries = json.loads(shown.output)["entra"]
    assert [(e["id"], e["flag"]) for e in entries] == [("lost", "never reached us"), ("ok", None)]
    assert entries[1]["our_request"]["operation"] == "create"
