"""The issue's acceptance, tried as a new user would: a real ``scim-sync serve`` with 6-second
tokens renewed 3 seconds before expiry into a file, used over real HTTP.

The test waits on the service's log events; the one wait on the clock is for the first token's
real expiry instant, which is what is being tested.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.processes import ServiceProcess, free_port

pytestmark = pytest.mark.slow


def delivered(after: set[str]) -> Any:
    def match(event: dict[str, Any]) -> bool:
        return event.get("event") == "scim token delivered" and event.get("token_id") not in after

    return match


@pytest.fixture
def service(tmp_path: Path, database_url: str) -> Iterator[tuple[ServiceProcess, str, Path]]:
    token_file = tmp_path / "x" / "token"  # /tmp/x does not exist yet either, for a new user
    port = free_port()
    env = {
        "SCIM_SYNC_DATABASE_URL": database_url,
        "SCIM_SYNC_RECONCILE_INTERVAL": "1h",
        "SCIM_SYNC_TOKEN_TTL": "6s",
        "SCIM_SYNC_TOKEN_RENEW_BEFORE": "3s",
        "SCIM_SYNC_TOKEN_SINK": f"file:{token_file}",
    }
    process = ServiceProcess(["serve", "--port", str(port)], cwd=tmp_path, env=env)
    try:
        yield process, f"http://127.0.0.1:{port}", token_file
    finally:
        process.stop()


def test_serve_renews_into_the_file_before_expiry_without_an_outage(
    service: tuple[ServiceProcess, str, Path],
) -> None:
    process, base, token_file = service
    lines = process.read_stdout_until(lambda line: "Admin key" in line)
    assert any(f"delivered to file:{token_file}" in line for line in lines)
    assert not any("sst_" in line for line in lines)
    admin_key = next(line.split(": ")[-1].strip() for line in lines if "Admin key" in line)
    process.wait_listening()

    first_event = process.wait_for(delivered(set()))
    first = token_file.read_text().strip()
    first_expires = datetime.fromisoformat(first_event["expires_at"])
    second_event = process.wait_for(delivered({first_event["token_id"]}), timeout=30)
    second = token_file.read_text().strip()
    assert second != first and second.startswith("sst_")
    assert datetime.fromisoformat(second_event["ts"]) < first_expires
    assert token_file.stat().st_mode & 0o777 == 0o600

    def users(token: str) -> int:
        return httpx.get(
            f"{base}/scim/v2/Users", headers={"Authorization": f"Bearer {token}"}
        ).status_code

    assert users(first) == 200  # overlap: the old token works until its expiry
    assert users(second) == 200

    time.sleep(max(0.0, (first_expires - datetime.now(UTC)).total_seconds()) + 0.3)
    assert users(first) == 401
    assert users(second) == 200

    def provision(secret: str) -> httpx.Response:
        return httpx.post(
            f"{base}/provisioning/token", headers={"Authorization": f"Bearer {secret}"}
        )

    issued = provision(admin_key)
    assert issued.status_code == 201
    assert set(issued.json()) == {"token", "id", "expires_at", "endpoint_url"}
    assert provision(second).status_code == 401
    assert not any("sst_" in str(event) for event in process.seen)
