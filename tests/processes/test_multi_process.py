"""Two web and two worker processes on PostgreSQL behind one workload (issue 8's check):
every change is applied exactly once, and no request is lost while a web process is
stopped and started again."""

from __future__ import annotations

import itertools
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from inbound.database.tables import audit
from scheduler.composition import compose
from scheduler.settings import Settings
from tests.support import entra_user, patch_body
from tests.support.processes import ServiceProcess, free_port, issue_token
from tests.support.progress import behind

pytestmark = pytest.mark.slow


class Balancer:
    """Round robin over the web processes; a backend that refuses connections is skipped,
    as a load balancer does (the request was never sent, so retrying it is safe)."""

    def __init__(self, ports: list[int], token: str) -> None:
        self.clients = [
            httpx.Client(
                base_url=f"http://127.0.0.1:{p}/scim/v2",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            for p in ports
        ]
        self._next = itertools.cycle(range(len(ports)))

    def send(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        first = next(self._next)
        for offset in range(len(self.clients)):
            client = self.clients[(first + offset) % len(self.clients)]
            try:
                return client.request(method, path, **kwargs)  # type: ignore[arg-type]
            except httpx.ConnectError:
                continue
        raise AssertionError("every web process refused the connection")


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_two_web_two_workers(database_url: str, tmp_path: Path) -> None:
    env = {"SCIM_SYNC_DATABASE_URL": database_url, "SCIM_SYNC_RECONCILE_INTERVAL": "2s"}
    runtime = compose(Settings(database_url=database_url))
    runtime.dispose()
    token = issue_token(tmp_path, env)
    ports = [free_port(), free_port()]
    webs = [ServiceProcess(["web", "--port", str(p)], cwd=tmp_path, env=env) for p in ports]
    workers = [ServiceProcess(["worker"], cwd=tmp_path, env=env) for _ in range(2)]
    for web in webs:
        web.wait_listening()
    balancer = Balancer(ports, token)
    statuses: list[int] = []
    created: list[str] = []
    try:
        for i in range(300):
            if i == 100:
                webs[0].stop()  # graceful: in-flight requests finish, new ones go elsewhere
            if i == 200:
                webs[0] = ServiceProcess(["web", "--port", str(ports[0])], cwd=tmp_path, env=env)
                webs[0].wait_listening()
            response = balancer.send("POST", "/Users", json=entra_user(f"mp{i:04d}"))
            statuses.append(response.status_code)
            created.append(response.json()["id"])
            if i % 3 == 0:
                patched = balancer.send(
                    "PATCH",
                    f"/Users/{created[-1]}",
                    json=patch_body({"op": "replace", "path": "title", "value": "moved"}),
                )
                statuses.append(patched.status_code)
        assert set(statuses) <= {200, 201}, statuses
        check = compose(Settings(database_url=database_url), migrate=False)
        try:
            while behind(check.database_engine):
                workers[0].wait_for(lambda e: e.get("event") == "reconcile finished", timeout=120)
                workers[0].seen.clear()
            with check.database_engine.connect() as conn:
                applies = conn.execute(
                    select(audit.c.scim_id, audit.c.generation, func.count())
                    .where(audit.c.actor == "target:identity_store")
                    .where(audit.c.operation != "unchanged")
                    .group_by(audit.c.scim_id, audit.c.generation)
                ).all()
            records = check.identities.list(limit=1000)
        finally:
            check.dispose()
        assert {scim_id for scim_id, _, _ in applies} == set(created)
        assert {count for _, _, count in applies} == {1}  # each generation applied once
        assert len(records) == 300
        assert sum(1 for r in records if r["title"] == "moved") == 100
    finally:
        for process in (*webs, *workers):
            process.stop()
        for client in balancer.clients:
            client.close()
