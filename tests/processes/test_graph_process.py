"""The Graph sink end to end: a real ``scim-sync serve`` and CLI against a loopback stand-in for
the authority and Graph, whose validateCredentials calls the service back with the new token
as Entra does. A refused delivery is visible in the log and in ``status``; a renewal after the
fix reaches Graph with a token that works."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.loopback import Loopback, Recorded, Reply
from tests.support.processes import ServiceProcess, free_port, scim_sync_command

pytestmark = pytest.mark.slow

TOKEN_PATH = "/authority/tenant-1/oauth2/v2.0/token"
SYNC = "/graph/v1.0/servicePrincipals/sp-1/synchronization"
CLIENT_SECRET = "graph-client-secret-value"


@pytest.fixture
def graph() -> Iterator[Loopback]:
    with Loopback().running() as server:
        yield server


@pytest.fixture
def env(database_url: str, graph: Loopback) -> dict[str, str]:
    port = free_port()
    return {
        "SCIM_SYNC_DATABASE_URL": database_url,
        "SCIM_SYNC_RECONCILE_INTERVAL": "1h",
        "SCIM_SYNC_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SCIM_SYNC_TOKEN_SINK": "graph",
        "SCIM_SYNC_GRAPH_TENANT_ID": "tenant-1",
        "SCIM_SYNC_GRAPH_CLIENT_ID": "client-1",
        "SCIM_SYNC_GRAPH_CLIENT_SECRET": CLIENT_SECRET,
        "SCIM_SYNC_GRAPH_SERVICE_PRINCIPAL_ID": "sp-1",
        "SCIM_SYNC_GRAPH_JOB_ID": "job-1",
        "SCIM_SYNC_GRAPH_AUTHORITY_URL": f"{graph.url}/authority",
        "SCIM_SYNC_GRAPH_API_URL": f"{graph.url}/graph/v1.0",
        "PORT": str(port),
    }


def cli(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*scim_sync_command(), *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def credentials(request: Recorded) -> dict[str, str]:
    body = request.json()
    pairs = body["credentials"] if "credentials" in body else body["value"]
    return {pair["key"]: pair["value"] for pair in pairs}


def entra_checks_the_token(request: Recorded) -> Reply:
    """What validateCredentials does: call the SCIM endpoint with the offered token."""
    offered = credentials(request)
    probe = httpx.get(
        f"{offered['BaseAddress']}/Users",
        params={"filter": 'userName eq "0f9c4d2e-validate"'},
        headers={"Authorization": f"Bearer {offered['SecretToken']}"},
    )
    if probe.status_code == 200 and probe.json()["totalResults"] == 0:
        return Reply(204)
    return Reply(400, {"error": {"code": "BadRequest", "message": f"SCIM {probe.status_code}"}})


def test_refused_then_fixed_graph_delivery(
    graph: Loopback, env: dict[str, str], tmp_path: Path
) -> None:
    graph.route(
        "POST",
        TOKEN_PATH,
        Reply(401, {"error": "invalid_client", "error_description": "AADSTS7000215: bad secret"}),
    )
    service = ServiceProcess(["serve", "--port", env["PORT"]], cwd=tmp_path, env=env)
    try:
        service.wait_listening()
        failed = service.wait_for(lambda e: e.get("event") == "scim token delivery failed")
        assert "invalid_client" in failed["error"] and failed["attempts"] == 1
        assert failed["sink"] == "graph:servicePrincipals/sp-1"
        status: dict[str, Any] = json.loads(cli(tmp_path, env, "status", "--json").stdout)
        assert status["token_renewal"]["state"] == "failing"
        assert "AADSTS7000215" in status["token_renewal"]["last_error"]
        assert status["token_expires_at"] is None  # nobody holds a token: the alert fires

        graph.route("POST", TOKEN_PATH, Reply(200, {"access_token": "access-1"}))
        graph.route("POST", f"{SYNC}/jobs/job-1/validateCredentials", entra_checks_the_token)
        graph.route("PUT", f"{SYNC}/secrets", Reply(204))
        renewed = cli(tmp_path, env, "token", "renew", "--json")
        assert renewed.returncode == 0, renewed.stdout + renewed.stderr
        assert json.loads(renewed.stdout)["action"] == "renewed"

        put = next(r for r in graph.requests if r.method == "PUT")
        saved = credentials(put)
        assert saved["BaseAddress"] == f"{env['SCIM_SYNC_PUBLIC_URL']}/scim/v2"
        assert put.headers["authorization"] == "Bearer access-1"
        users = httpx.get(
            f"{saved['BaseAddress']}/Users",
            headers={"Authorization": f"Bearer {saved['SecretToken']}"},
        )
        assert users.status_code == 200
        status = json.loads(cli(tmp_path, env, "status", "--json").stdout)
        assert status["token_renewal"]["state"] == "ok"
        assert status["token_expires_at"] is not None
        logged = json.dumps(service.seen)
        assert "sst_" not in logged and CLIENT_SECRET not in logged
    finally:
        service.stop()
