"""The audit trail through the admin API, the request log, and the probes."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from inbound.auth import SecretKind
from inbound.web.app import create_app
from scheduler import db
from scheduler.composition import Runtime, compose
from scheduler.logs import JsonFormatter
from scheduler.settings import Settings
from tests.support import entra_user, patch_body

Client = TestClient[Any]


def test_audit_trail_of_one_object(browser_client: Client, scim_token: str, admin_key: str) -> None:
    scim = {"Authorization": f"Bearer {scim_token}"}
    admin = {"Authorization": f"Bearer {admin_key}"}
    user = browser_client.post(
        "/scim/v2/Users", json=entra_user("E7"), headers={**scim, "X-Request-ID": "entra-42"}
    ).json()
    browser_client.post("/scim/v2/Users", json=entra_user("E8"), headers=scim)
    browser_client.patch(
        f"/scim/v2/Users/{user['id']}",
        json=patch_body({"op": "Replace", "path": "title", "value": "Lead"}),
        headers=scim,
    )
    answer = browser_client.get("/api/v1/audit", params={"scim_id": user["id"]}, headers=admin)
    assert answer.status_code == 200
    events = answer.json()["events"]
    assert [(e["operation"], e["generation"]) for e in events] == [("patch", 2), ("create", 1)]
    assert events[1]["request_id"] == "entra-42"
    assert events[0]["request_id"]  # made up by the server when the caller sent none
    assert all(e["actor"].startswith("token:") for e in events)
    assert answer.json()["next_before"] is None


def test_audit_pages_backwards_without_overlap(
    browser_client: Client, scim_token: str, admin_key: str
) -> None:
    scim = {"Authorization": f"Bearer {scim_token}"}
    admin = {"Authorization": f"Bearer {admin_key}"}
    for n in range(5):
        browser_client.post("/scim/v2/Users", json=entra_user(f"P{n}"), headers=scim)
    first = browser_client.get("/api/v1/audit", params={"limit": 3}, headers=admin).json()
    assert len(first["events"]) == 3
    second = browser_client.get(
        "/api/v1/audit", params={"limit": 3, "before": first["next_before"]}, headers=admin
    ).json()
    ids = [e["id"] for e in first["events"] + second["events"]]
    assert len(ids) == 5 == len(set(ids))
    assert ids == sorted(ids, reverse=True)


def test_audit_api_refuses_bad_input_and_scim_tokens(
    browser_client: Client, scim_token: str, admin_key: str
) -> None:
    admin = {"Authorization": f"Bearer {admin_key}"}
    bad = browser_client.get("/api/v1/audit", params={"limit": "-1"}, headers=admin)
    assert bad.status_code == 400
    assert bad.json()["scimType"] == "invalidValue"
    assert "'limit' must be a positive integer" in bad.json()["detail"]
    refused = browser_client.get("/api/v1/audit", headers={"Authorization": f"Bearer {scim_token}"})
    assert refused.status_code == 401


def test_request_log_lines_carry_ids_and_no_secrets(
    browser_client: Client, scim_token: str, admin_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="inbound.web.request_log")
    body = entra_user("S1", password="Secret-Passw0rd")  # must never reach a log line
    created = browser_client.post(
        "/scim/v2/Users?aadOptscim062020",
        json=body,
        headers={"Authorization": f"Bearer {scim_token}", "X-Request-ID": "x" * 65},
    )
    browser_client.get("/no/such/path")
    browser_client.get("/healthz")  # probes are counted, not logged at INFO
    browser_client.post("/admin/login", data={"admin_key": admin_key}, follow_redirects=False)
    lines = [JsonFormatter().format(r) for r in caplog.records if r.msg == "request handled"]
    logged = [json.loads(line) for line in lines]
    assert [(e["route"], e["status"]) for e in logged] == [
        ("/scim/v2/Users", created.status_code),
        ("unmatched", 404),
        ("/admin/login", 303),
    ]
    first = logged[0]
    assert first["method"] == "POST"
    assert first["latency_ms"] >= 0
    assert len(first["request_id"]) == 32  # the over-long caller id was replaced
    assert created.headers["x-request-id"] == first["request_id"]
    text = "\n".join(lines)
    for secret in (scim_token, admin_key, "Secret-Passw0rd", "aadOptscim062020", "S1"):
        assert secret not in text


def test_readiness_fails_while_migrations_are_pending(database_url: str, tmp_path: Path) -> None:
    runtime = compose(Settings(database_url=database_url), migrate=False)
    try:
        with TestClient(create_app(runtime.services)) as client:
            assert client.get("/healthz").status_code == 200
            waiting = client.get("/readyz")
            assert waiting.status_code == 503
            assert "migrations are pending" in waiting.json()["reason"]
            db.upgrade_all(runtime.database_engine, runtime.idm_engine)
            assert client.get("/readyz").json() == {"status": "ready"}
    finally:
        runtime.dispose()


def test_the_page_is_absent_without_console_stores(runtime: Runtime) -> None:
    runtime.services.console = None
    with TestClient(create_app(runtime.services)) as client:
        assert client.get("/admin/login").status_code == 404
        assert client.get("/metrics").status_code == 200


def test_the_page_metrics_and_audit_read_while_a_write_holds_sqlite(tmp_path: Path) -> None:
    """SQLite has one writer: the operators' reads must never queue behind it."""
    path = tmp_path / "locked.db"
    runtime = compose(Settings(database_url=f"sqlite:///{path}"))
    admin_key = runtime.tokens.issue(SecretKind.ADMIN, None).secret
    writer = sqlite3.connect(path, isolation_level=None)
    answers: list[int] = []
    try:
        with TestClient(create_app(runtime.services)) as client:
            login_response = client.post(
                "/admin/login", data={"admin_key": admin_key}, follow_redirects=False
            )
            assert login_response.status_code == 303
            writer.execute("BEGIN IMMEDIATE")

            def read_everything() -> None:
                answers.append(client.get("/admin").status_code)
                answers.append(client.get("/metrics").status_code)
                answers.append(
                    client.get(
                        "/api/v1/audit", headers={"Authorization": f"Bearer {admin_key}"}
                    ).status_code
                )

            reader = threading.Thread(target=read_everything, daemon=True)
            reader.start()
            reader.join(timeout=10)
            answered_under_lock = not reader.is_alive()
            writer.execute("ROLLBACK")
            reader.join(timeout=40)
    finally:
        writer.close()
        runtime.dispose()
    assert answered_under_lock, f"reads queued behind the writer; answered so far: {answers}"
    assert answers == [200, 200, 200]
