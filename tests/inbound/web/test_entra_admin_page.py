"""Entra's side on the admin page and ``POST /api/v1/entra/restart``, against the loopback Graph
and a real database (SQLite and PostgreSQL): the job's state, one object's timeline, and the
restart with its server-side confirmation and audit."""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import TestClient

from inbound.auth import SecretKind
from inbound.web.app import create_app
from scheduler.composition import Runtime, compose
from scheduler.settings import Settings
from tests.support import FakeClock, entra_group, entra_user
from tests.support import fake_graph as graph
from tests.support.admin import login
from tests.support.loopback import Loopback, Reply

Client = TestClient[Any]
RESTART_PATH = f"{graph.JOB_PATH}/restart"
LOST = "SystemForCrossDomainIdentityManagementServiceUnavailable"


@pytest.fixture
def watched(database_url: str, clock: FakeClock, server: Loopback) -> Iterator[Runtime]:
    settings = Settings(database_url=database_url, graph=graph.settings(server.url))
    rt = compose(settings, public_url="http://scim.test", clock=clock)
    try:
        yield rt
    finally:
        rt.dispose()


@pytest.fixture
def page(watched: Runtime) -> Iterator[tuple[Client, str, str]]:
    """A logged-in page client, its CSRF token and the SCIM token Entra uses."""
    admin_key = watched.tokens.issue(SecretKind.ADMIN, None, "page").secret
    scim_token = watched.tokens.issue(SecretKind.SCIM, watched.settings.token_ttl).secret
    with TestClient(create_app(watched.services), base_url="http://scim.test") as client:
        csrf = login(client, admin_key)
        yield client, csrf, scim_token


def restart_audit(runtime: Runtime) -> list[tuple[str, str, str]]:
    assert runtime.services.console is not None
    return [
        (e.actor, e.outcome, e.detail["scope"])
        for e in runtime.services.console.audit.query()
        if e.operation == "entra restart"
    ]


def test_the_page_scopes_are_the_connectors_scopes() -> None:
    from connectors.entra.health import RESTART_SCOPES
    from inbound.web.admin_actions import ENTRA_RESTART_SCOPES

    assert set(ENTRA_RESTART_SCOPES) == set(RESTART_SCOPES)


def test_the_page_shows_the_quarantine(
    watched: Runtime, page: tuple[Client, str, str], server: Loopback, clock: FakeClock
) -> None:
    client, _csrf, _token = page
    assert "Not read yet" in client.get("/admin").text
    server.route(
        "GET",
        graph.JOB_PATH,
        Reply(200, graph.job("Quarantine", quarantined_since=clock.now, failures=3)),
    )
    graph.serve_logs(server, [[]])
    assert watched.entra_watch is not None
    watched.entra_watch.poll(force=True)
    shown = client.get("/admin").text
    assert f"Job <code>{graph.JOB}</code>: <strong>quarantine</strong>" in shown
    assert "reason EncounteredQuarantineException" in shown
    assert "2026-12-01 12:00:00 UTC" in shown  # the next attempt
    assert 'Successive failures</dt><dd class="bad">3</dd>' in shown
    assert "Restart provisioning" in shown


def test_the_page_names_a_missing_permission(
    watched: Runtime, page: tuple[Client, str, str], server: Loopback
) -> None:
    client, _csrf, _token = page
    server.route("GET", graph.JOB_PATH, graph.forbidden("Synchronization.Read.All"))
    server.route("GET", graph.LOGS_PATH, graph.forbidden("AuditLog.Read.All"))
    assert watched.entra_watch is not None
    watched.entra_watch.poll(force=True)
    shown = client.get("/admin").text
    assert "not permitted: needs Synchronization.Read.All" in shown
    assert "not permitted: needs AuditLog.Read.All" in shown


def test_without_graph_the_page_says_not_watched_and_offers_no_restart(
    runtime: Runtime, admin_key: str
) -> None:
    with TestClient(create_app(runtime.services), base_url="http://scim.test") as client:
        csrf = login(client, admin_key)
        shown = client.get("/admin").text
        data = {"csrf": csrf, "scope": "quarantine", "confirmed": "yes"}
        refused = client.post("/admin/entra/restart", data=data)
    assert "Not watched: set the <code>SCIM_SYNC_GRAPH_*</code> settings" in shown
    assert "Restart provisioning" not in shown
    assert refused.status_code == 502
    assert "Entra is not watched" in refused.text


def test_one_timeline_per_object_flags_what_never_reached_us(
    watched: Runtime, page: tuple[Client, str, str], server: Loopback, clock: FakeClock
) -> None:
    client, _csrf, scim_token = page
    auth = {"Authorization": f"Bearer {scim_token}"}
    user = client.post("/scim/v2/Users", json=entra_user("E1001"), headers=auth).json()
    group = client.post("/scim/v2/Groups", json=entra_group("Pilots"), headers=auth).json()
    watched.reconciler.run_once()
    server.route("GET", graph.JOB_PATH, Reply(200, graph.job()))
    graph.serve_logs(
        server,
        [
            [
                graph.entry("ok", clock.now, action="create", target_id=user["id"]),
                graph.entry(
                    "lost",
                    clock.now + timedelta(hours=1),
                    status="failure",
                    target_id=user["id"],
                    error_code=LOST,
                    reason="the endpoint did not answer",
                ),
            ]
        ],
    )
    assert watched.entra_watch is not None
    watched.entra_watch.poll(force=True)

    for wanted in ("E1001", user["id"]):
        shown = html.unescape(client.get("/admin", params={"object": wanted}).text)
        assert f"User <strong>E1001</strong> <code>{user['id']}</code>" in shown
        assert "identity_store: applied (g1)" in shown
        assert "1 Entra failure(s) never reached us" in shown
        rows = shown[shown.index('<table id="timeline">') :]
        lost, ok, ours = (rows.index(mark) for mark in (LOST, "change-ok", "<td>token:"))
        assert lost < ok and lost < ours  # newest first: the failure an hour later on top
        assert rows.count("never reached us") == 1
        assert watched.services.console is not None
        created = watched.services.console.audit.query(scim_id=user["id"])[-1]
        our_request = created.request_id
        assert f"<code>change-ok</code> ↔ <code>{our_request}</code>" in rows

    by_name = html.unescape(client.get("/admin", params={"object": "Pilots"}).text)
    assert f"Group <strong>Pilots</strong> <code>{group['id']}</code>" in by_name
    assert "never reached us" not in by_name
    unknown = client.get("/admin", params={"object": "nobody<b>"}).text
    assert (
        "No staged user or group has the user ID, group name or SCIM id nobody&lt;b&gt;" in unknown
    )


def test_restart_asks_on_the_server_then_restarts_and_audits(
    watched: Runtime, page: tuple[Client, str, str], server: Loopback
) -> None:
    client, csrf, _token = page
    server.route("POST", RESTART_PATH, Reply(204))
    asked = client.post("/admin/entra/restart", data={"csrf": csrf, "scope": "full"})
    assert asked.status_code == 200
    assert "Restart Entra's provisioning job?" in asked.text
    assert 'name="confirmed" value="yes"' in asked.text
    assert ("POST", RESTART_PATH) not in server.calls()
    assert restart_audit(watched) == []

    forged = client.post("/admin/entra/restart", data={"scope": "full", "confirmed": "yes"})
    assert forged.status_code == 403
    assert ("POST", RESTART_PATH) not in server.calls()

    done = client.post(
        "/admin/entra/restart",
        data={"csrf": csrf, "scope": "full", "confirmed": "yes"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/admin?notice=entra-restarted#entra"
    restart = next(r for r in server.requests if r.path == RESTART_PATH)
    assert restart.json() == {"criteria": {"resetScope": "Watermark,Escrows,QuarantineState"}}
    [token] = watched.tokens.list(SecretKind.ADMIN, live_only=True)
    assert restart_audit(watched) == [(f"admin:{token.id}", "ok", "full")]
    assert "job was restarted" in client.get(done.headers["location"]).text


def test_a_restart_graph_refuses_names_the_permission(
    watched: Runtime, page: tuple[Client, str, str], server: Loopback
) -> None:
    client, csrf, _token = page
    server.route("POST", RESTART_PATH, graph.forbidden("Synchronization.ReadWrite.All"))
    refused = client.post(
        "/admin/entra/restart", data={"csrf": csrf, "scope": "quarantine", "confirmed": "yes"}
    )
    assert refused.status_code == 502
    assert "not permitted: needs Synchronization.ReadWrite.All" in refused.text
    [token] = watched.tokens.list(SecretKind.ADMIN, live_only=True)
    assert restart_audit(watched) == [(f"admin:{token.id}", "failed", "quarantine")]
    bad_scope = client.post("/admin/entra/restart", data={"csrf": csrf, "scope": "Full"})
    assert bad_scope.status_code == 400 and "Choose the scope" in bad_scope.text


def test_the_admin_api_restarts_with_the_same_action(
    watched: Runtime, server: Loopback, clock: FakeClock
) -> None:
    issued = watched.tokens.issue(SecretKind.ADMIN, None, "api")
    with TestClient(create_app(watched.services), base_url="http://scim.test") as client:
        client.headers["Authorization"] = f"Bearer {issued.secret}"
        server.route("POST", RESTART_PATH, Reply(204))
        done = client.post("/api/v1/entra/restart")
        assert done.status_code == 200, done.text
        assert done.json() == {"job_id": graph.JOB, "scope": "quarantine"}
        assert server.requests[-1].json() == {"criteria": {"resetScope": "QuarantineState"}}

        bad = client.post("/api/v1/entra/restart", json={"scope": "everything"})
        assert bad.status_code == 400 and bad.json()["scimType"] == "invalidValue"
        assert "quarantine" in bad.json()["detail"]

        server.route("POST", RESTART_PATH, graph.forbidden("Synchronization.ReadWrite.All"))
        refused = client.post("/api/v1/entra/restart", json={"scope": "full"})
        assert refused.status_code == 502
        assert "not permitted: needs Synchronization.ReadWrite.All" in refused.json()["detail"]

        client.headers["Authorization"] = "Bearer not-a-key"
        assert client.post("/api/v1/entra/restart").status_code == 401
    assert restart_audit(watched) == [
        (f"admin:{issued.id}", "failed", "full"),
        (f"admin:{issued.id}", "ok", "quarantine"),
    ]


def test_the_admin_api_without_graph_says_so(runtime: Runtime, admin_key: str) -> None:
    with TestClient(create_app(runtime.services), base_url="http://scim.test") as client:
        client.headers["Authorization"] = f"Bearer {admin_key}"
        refused = client.post("/api/v1/entra/restart", json={"scope": "quarantine"})
    assert refused.status_code == 409
    assert "SCIM_SYNC_GRAPH_" in refused.json()["detail"]
