"""The README's promise, tried as a new user would: ``scim-sync serve`` over real HTTP."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import entra_group, entra_user, patch_body
from tests.support.processes import ServiceProcess, free_port, scim_sync_command

pytestmark = pytest.mark.slow


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    return {"SCIM_SYNC_DATABASE_URL": database_url, "SCIM_SYNC_RECONCILE_INTERVAL": "1h"}


@pytest.fixture
def started(workdir: Path, env: dict[str, str]) -> Iterator[tuple[ServiceProcess, str, str]]:
    port = free_port()
    service = ServiceProcess(["serve", "--port", str(port)], cwd=workdir, env=env)
    try:
        lines = service.read_stdout_until(lambda line: "Admin key" in line)
        token = next(line.strip() for line in lines if line.strip().startswith("sst_"))
        service.wait_listening()
        yield service, f"http://127.0.0.1:{port}", token
    finally:
        service.stop()


def cli(workdir: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [*scim_sync_command(), *args],
        cwd=workdir,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def applied(scim_id: str, generation: int | None = None) -> Any:
    def match(event: dict[str, Any]) -> bool:
        return (
            event.get("event") == "resource applied"
            and event.get("scim_id") == scim_id
            and (generation is None or event.get("generation") == generation)
        )

    return match


def test_first_start_prints_endpoint_token_and_admin_key_once(
    workdir: Path, env: dict[str, str]
) -> None:
    port = free_port()
    first = ServiceProcess(["serve", "--port", str(port)], cwd=workdir, env=env)
    lines = first.read_stdout_until(lambda line: "Admin key" in line)
    first.wait_listening()
    first.stop()
    text = "\n".join(lines)
    assert f"http://127.0.0.1:{port}/scim/v2" in text
    assert "sst_" in text and "ssa_" in text
    second = ServiceProcess(["serve", "--port", str(port)], cwd=workdir, env=env)
    second.wait_listening()
    second.stop()
    later = []
    while not second.stdout_lines.empty():
        later.append(second.stdout_lines.get())
    assert not any("sst_" in line or "ssa_" in line for line in later)


def test_acceptance_over_real_http(
    started: tuple[ServiceProcess, str, str], workdir: Path, env: dict[str, str]
) -> None:
    service, base, token = started
    with httpx.Client(
        base_url=f"{base}/scim/v2", headers={"Authorization": f"Bearer {token}"}
    ) as http:
        probe = http.get(
            "/Users", params={"filter": 'userName eq "7c1e6f2a-5d0b-4b8e-9f7a-2d3c4b5a6e7f"'}
        )
        assert probe.status_code == 200 and probe.json()["totalResults"] == 0

        created = http.post(
            "/Users", json=entra_user("E2001"), headers={"Content-Type": "application/scim+json"}
        )
        assert created.status_code == 201
        user_id = created.json()["id"]
        service.wait_for(applied(user_id, 1))
        record = json.loads(cli(workdir, env, "identities", "get", "E2001", "--json").stdout)
        assert record["email"] == "e2001@example.com" and record["active"] is True

        disabled = http.patch(
            f"/Users/{user_id}",
            json=patch_body({"op": "Replace", "path": "active", "value": "False"}),
        )
        assert disabled.status_code == 200
        service.wait_for(applied(user_id, 2))
        assert (
            json.loads(cli(workdir, env, "identities", "get", "E2001", "--json").stdout)["active"]
            is False
        )

        second = http.post("/Users", json=entra_user("E2002")).json()["id"]
        group = http.post("/Groups", json=entra_group("Pilots")).json()["id"]
        http.patch(
            f"/Groups/{group}",
            json=patch_body(
                {"op": "Add", "path": "members", "value": [{"value": user_id}, {"value": second}]}
            ),
        )
        service.wait_for(applied(group, 2))
        for member in ("E2001", "E2002"):
            assert json.loads(cli(workdir, env, "identities", "get", member, "--json").stdout)[
                "groups"
            ] == ["Pilots"]
        http.patch(
            f"/Groups/{group}",
            json=patch_body({"op": "Remove", "path": "members", "value": [{"value": user_id}]}),
        )
        service.wait_for(applied(group, 3))
        assert (
            json.loads(cli(workdir, env, "identities", "get", "E2001", "--json").stdout)["groups"]
            == []
        )
        assert json.loads(cli(workdir, env, "identities", "get", "E2002", "--json").stdout)[
            "groups"
        ] == ["Pilots"]

        assert http.delete(f"/Users/{user_id}").status_code == 204
        service.wait_for(applied(user_id, 3))
        missing = cli(workdir, env, "identities", "get", "E2001", "--json")
        assert missing.returncode == 1

        bad = http.post(
            "/Users", content=b"{not json", headers={"Content-Type": "application/scim+json"}
        )
        assert bad.status_code == 400 and bad.json()["scimType"] == "invalidSyntax"
        unauthorised = httpx.get(f"{base}/scim/v2/Users")
        assert unauthorised.status_code == 401


def test_a_change_survives_sigkill_before_reconcile(workdir: Path, env: dict[str, str]) -> None:
    """Staged by a receiver that dies at once; a later ``serve`` applies it."""
    port = free_port()
    issued = json.loads(cli(workdir, env, "token", "issue", "--json").stdout)
    receiver = ServiceProcess(["web", "--port", str(port)], cwd=workdir, env=env)
    receiver.wait_listening()
    response = httpx.post(
        f"http://127.0.0.1:{port}/scim/v2/Users",
        json=entra_user("K1"),
        headers={"Authorization": f"Bearer {issued['token']}"},
    )
    assert response.status_code == 201
    receiver.kill()
    assert cli(workdir, env, "identities", "get", "K1").returncode == 1
    service = ServiceProcess(["serve", "--port", str(port)], cwd=workdir, env=env)
    try:
        service.wait_for(applied(response.json()["id"]))
    finally:
        service.stop()
    assert (
        json.loads(cli(workdir, env, "identities", "get", "K1", "--json").stdout)["user_id"] == "K1"
    )


def test_split_web_and_worker_hear_each_other(workdir: Path, env: dict[str, str]) -> None:
    """With the reconcile interval at an hour, only the cross-process nudge can be this fast."""
    issued = json.loads(cli(workdir, env, "token", "issue", "--json").stdout)
    port = free_port()
    receiver = ServiceProcess(["web", "--port", str(port)], cwd=workdir, env=env)
    reconciler = ServiceProcess(["worker"], cwd=workdir, env=env)
    try:
        receiver.wait_listening()
        reconciler.wait_for(lambda e: e.get("event") == "reconcile finished")
        response = httpx.post(
            f"http://127.0.0.1:{port}/scim/v2/Users",
            json=entra_user("split1"),
            headers={"Authorization": f"Bearer {issued['token']}"},
        )
        assert response.status_code == 201
        reconciler.wait_for(applied(response.json()["id"]), timeout=20)
    finally:
        receiver.stop()
        reconciler.stop()
