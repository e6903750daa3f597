"""``scim-sync serve`` as a real process: the page, the request log and the run metrics."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import entra_user
from tests.support.processes import ServiceProcess, free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ServiceProcess, str, str, str]]:
    admin_key = "ssa_" + secrets.token_urlsafe(32)
    port = free_port()
    service = ServiceProcess(
        ["serve", "--port", str(port)],
        cwd=tmp_path,
        env={
            "SCIM_SYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'served.db'}",
            "SCIM_SYNC_ADMIN_KEY": admin_key,
            "SCIM_SYNC_RECONCILE_INTERVAL": "1h",
        },
    )
    try:
        lines = service.read_stdout_until(lambda line: line.strip().startswith("sst_"))
        token = lines[-1].strip()
        service.wait_listening()
        yield service, f"http://127.0.0.1:{port}", token, admin_key
    finally:
        service.stop()


def test_a_write_is_logged_counted_and_shown(
    served: tuple[ServiceProcess, str, str, str],
) -> None:
    service, url, token, admin_key = served
    created = httpx.post(
        f"{url}/scim/v2/Users",
        json=entra_user("E5001"),
        headers={"Authorization": f"Bearer {token}", "X-Request-ID": "entra-e2e-1"},
    )
    assert created.status_code == 201
    assert created.headers["x-request-id"] == "entra-e2e-1"
    logged = service.wait_for(
        lambda e: e.get("event") == "request handled" and e.get("request_id") == "entra-e2e-1"
    )
    assert (logged["route"], logged["status"], logged["method"]) == ("/scim/v2/Users", 201, "POST")
    # logged after the run returned, so the run's metrics are in place
    service.wait_for(lambda e: e.get("event") == "reconcile finished" and e["applied"] == 1)

    scraped = httpx.get(f"{url}/metrics").text
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scraped)
        for s in family.samples
    }
    applied = (("action", "created"), ("target", "identity_store"))
    assert samples[("scim_sync_applied_total", applied)] == 1
    assert samples[("scim_sync_reconcile_run_duration_seconds_count", ())] >= 1
    assert samples[("scim_sync_pending", (("target", "identity_store"),))] == 0
    assert 0 < samples[("scim_sync_token_expiry_seconds", ())] <= 10 * 3600

    with httpx.Client(base_url=url) as browser:
        assert browser.post("/admin/login", data={"admin_key": token}).status_code == 401
        page = browser.post("/admin/login", data={"admin_key": admin_key}, follow_redirects=True)
        assert page.status_code == 200
        assert f"{url}/scim/v2" in page.text
        assert "e5001" in page.text.lower()
    service.wait_for(lambda e: e.get("route") == "/admin" and e.get("status") == 200)
    while not service.events.empty():
        service.seen.append(service.events.get_nowait())
    for event in service.seen:
        assert token not in str(event) and admin_key not in str(event)
