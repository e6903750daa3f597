"""The admin page over the ASGI test client: login, sessions, CSRF, and every action."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar.testing import TestClient

from inbound.auth import SecretKind
from inbound.web.app import create_app
from scheduler.composition import Runtime, compose
from scheduler.settings import Settings
from tests.support import FakeClock, entra_user
from tests.support.admin import REFUSAL, RefusingTarget, add_target, csrf_of, login

Client = TestClient[Any]


def test_the_page_needs_a_login(browser_client: Client) -> None:
    response = browser_client.get("/admin", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login"
    form = browser_client.get("/admin/login")
    assert 'name="admin_key"' in form.text
    assert 'for="admin_key"' in form.text


def test_login_sets_a_strict_http_only_cookie(browser_client: Client, admin_key: str) -> None:
    response = browser_client.post(
        "/admin/login", data={"admin_key": admin_key}, follow_redirects=False
    )
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/admin" in cookie
    assert "Secure" not in cookie  # served over plain http here
    assert admin_key not in cookie
    page = browser_client.get("/admin")
    assert page.status_code == 200
    assert "http://scim.test/scim/v2" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_cookie_is_secure_when_the_public_url_is_https(runtime: Runtime, admin_key: str) -> None:
    runtime.services.public_url = "https://scim.example.com"
    with TestClient(create_app(runtime.services), base_url="https://scim.test") as client:
        response = client.post(
            "/admin/login", data={"admin_key": admin_key}, follow_redirects=False
        )
    assert "Secure" in response.headers["set-cookie"]


def test_a_scim_token_or_a_wrong_key_cannot_log_in(browser_client: Client, scim_token: str) -> None:
    refused = browser_client.post("/admin/login", data={"admin_key": scim_token})
    assert refused.status_code == 401
    assert "That is a SCIM token" in refused.text
    assert "set-cookie" not in refused.headers
    wrong = browser_client.post("/admin/login", data={"admin_key": "ssa_not-a-key"})
    assert wrong.status_code == 401
    assert "not a valid admin key" in wrong.text
    assert browser_client.get("/admin", follow_redirects=False).status_code == 303


def test_forms_without_the_csrf_token_are_refused(
    browser_client: Client, admin_key: str, runtime: Runtime
) -> None:
    login(browser_client, admin_key)
    for data in ({"enabled": "false"}, {"enabled": "false", "csrf": "forged"}):
        refused = browser_client.post("/admin/scim", data=data)
        assert refused.status_code == 403
        assert "stale or came from another page" in refused.text
    assert runtime.live_settings.scim_enabled() is True


def test_switch_the_scim_server_off_and_on(
    browser_client: Client, admin_key: str, runtime: Runtime, scim_token: str
) -> None:
    csrf = login(browser_client, admin_key)
    off = browser_client.post("/admin/scim", data={"csrf": csrf, "enabled": "false"})
    assert off.status_code == 200
    assert "SCIM server disabled" in off.text
    assert runtime.live_settings.scim_enabled() is False
    on = browser_client.post("/admin/scim", data={"csrf": csrf, "enabled": "true"})
    assert 'aria-checked="true"' in on.text
    assert runtime.live_settings.scim_enabled() is True
    operations = [e.operation for e in runtime.services.console.audit.query()]  # type: ignore[union-attr]
    assert operations[:2] == ["scim.enable", "scim.disable"]


def test_generate_shows_the_token_once_and_it_works(
    browser_client: Client, admin_key: str, runtime: Runtime
) -> None:
    csrf = login(browser_client, admin_key)
    shown = browser_client.post("/admin/tokens", data={"csrf": csrf, "label": "entra prod"})
    assert shown.status_code == 200
    assert shown.headers["cache-control"] == "no-store"
    secret = shown.text.split('id="new-token" type="text" readonly value="', 1)[1].split('"')[0]
    assert secret.startswith("sst_")
    assert "10h 00m" in shown.text  # the countdown before the script takes over
    page = browser_client.get("/admin")
    assert secret not in page.text
    assert "entra prod" in page.text
    answer = browser_client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 200


def test_revoke_a_token(browser_client: Client, admin_key: str, runtime: Runtime) -> None:
    issued = runtime.tokens.issue(SecretKind.SCIM, timedelta(hours=10), "old")
    csrf = login(browser_client, admin_key)
    page = browser_client.post(f"/admin/tokens/{issued.id}/revoke", data={"csrf": csrf})
    assert "The token was revoked." in page.text
    assert runtime.tokens.verify(issued.secret, SecretKind.SCIM) is None
    assert f"<code>{issued.id}</code>" not in page.text


def test_change_the_frequency(browser_client: Client, admin_key: str, runtime: Runtime) -> None:
    seen: list[float] = []
    runtime.services.on_interval_change = seen.append
    csrf = login(browser_client, admin_key)
    saved = browser_client.post("/admin/frequency", data={"csrf": csrf, "seconds": "300"})
    assert "frequency was saved" in saved.text
    assert 'value="300"' in saved.text
    assert runtime.live_settings.reconcile_interval(60) == 300
    assert seen == [300]
    for bad in ("0", "abc", "100000", "nan"):
        refused = browser_client.post("/admin/frequency", data={"csrf": csrf, "seconds": bad})
        assert refused.status_code == 400
        assert "Enter a number of seconds from 1 to 86400" in refused.text
        assert 'aria-invalid="true"' in refused.text
    assert runtime.live_settings.reconcile_interval(60) == 300


def test_dead_letters_retry_and_skip(
    browser_client: Client, admin_key: str, runtime: Runtime, scim_token: str
) -> None:
    target = RefusingTarget()
    add_target(runtime, target)
    auth = {"Authorization": f"Bearer {scim_token}"}
    ids = [
        browser_client.post("/scim/v2/Users", json=entra_user(name), headers=auth).json()["id"]
        for name in ("E1", "E2")
    ]
    runtime.reconciler.run_once()
    csrf = login(browser_client, admin_key)
    page = browser_client.get("/admin")
    assert page.text.count(REFUSAL) >= 2
    retried = browser_client.post(
        f"/admin/dead-letters/{ids[0]}/retry", data={"csrf": csrf, "target": "refusing"}
    )
    assert "put back in line" in retried.text
    skipped = browser_client.post(
        f"/admin/dead-letters/{ids[1]}/skip", data={"csrf": csrf, "target": "refusing"}
    )
    assert "was skipped" in skipped.text
    assert runtime.ledger.dead_letters() == []
    target.refuse = False
    runtime.reconciler.run_once()
    states = {s.target: s.status for s in runtime.ledger.states_of(ids[0], ["refusing"])}
    assert states == {"refusing": "applied"}
    audit = runtime.services.console.audit.query(scim_id=ids[0])  # type: ignore[union-attr]
    assert [(e.actor, e.operation) for e in audit][:2] == [
        ("target:refusing", "created"),
        (f"admin:{runtime.tokens.verify(admin_key, SecretKind.ADMIN)}", "dead_letter.retry"),
    ]


def test_identities_search_and_audit_filter(
    browser_client: Client, admin_key: str, runtime: Runtime, scim_token: str
) -> None:
    auth = {"Authorization": f"Bearer {scim_token}"}
    alice = browser_client.post(
        "/scim/v2/Users", json=entra_user("A100", displayName='Alice Quote"s'), headers=auth
    ).json()
    browser_client.post("/scim/v2/Users", json=entra_user("B200"), headers=auth)
    runtime.reconciler.run_once()
    login(browser_client, admin_key)
    found = browser_client.get("/admin", params={"q": "a10"})
    assert "1 of 1 staged users" in found.text
    assert "identity_store: applied (g1)" in found.text
    assert "Alice Quote&#34;s" in found.text  # escaped, never raw markup
    assert "B200" not in found.text.split('id="identities"')[1].split('id="audit"')[0]
    audit = browser_client.get("/admin", params={"audit": alice["id"]})
    section = audit.text.split('id="audit"', 1)[1]
    assert "create" in section
    assert "attributes" in section  # the event's detail: attribute names, never values
    assert "B200" not in section


def test_logout_ends_the_session_everywhere(
    browser_client: Client, admin_key: str, runtime: Runtime
) -> None:
    login(browser_client, admin_key)
    stolen = browser_client.cookies.get("scim_sync_admin")
    csrf = csrf_of(browser_client.get("/admin").text)
    out = browser_client.post("/admin/logout", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert "Max-Age=0" in out.headers["set-cookie"]
    with TestClient(create_app(runtime.services), base_url="http://scim.test") as other:
        other.cookies.set("scim_sync_admin", stolen or "", path="/admin")
        assert other.get("/admin", follow_redirects=False).status_code == 303


def test_a_session_is_valid_on_another_replica(
    browser_client: Client, admin_key: str, runtime: Runtime
) -> None:
    """Two web processes share only the database: a login on one is honoured by the other."""
    login(browser_client, admin_key)
    cookie = browser_client.cookies.get("scim_sync_admin")
    replica = compose(runtime.settings, public_url="http://scim.test", clock=runtime.services.clock)
    try:
        with TestClient(create_app(replica.services), base_url="http://scim.test") as other:
            other.cookies.set("scim_sync_admin", cookie or "", path="/admin")
            assert other.get("/admin").status_code == 200
    finally:
        replica.dispose()


def test_sessions_expire_and_die_with_their_admin_key(
    browser_client: Client, runtime: Runtime, clock: FakeClock
) -> None:
    first = runtime.tokens.issue(SecretKind.ADMIN, None)
    login(browser_client, first.secret)
    clock.advance(8 * 3600)
    assert browser_client.get("/admin", follow_redirects=False).status_code == 303
    login(browser_client, first.secret)
    runtime.tokens.revoke(first.id)
    assert browser_client.get("/admin", follow_redirects=False).status_code == 303


def test_held_mass_changes_are_approved_from_the_page(database_url: str, clock: FakeClock) -> None:
    settings = Settings(database_url=database_url, mass_change_max_count=2)
    runtime = compose(settings, public_url="http://scim.test", clock=clock)
    try:
        admin_key = runtime.tokens.issue(SecretKind.ADMIN, None).secret
        auth = {"Authorization": f"Bearer {runtime.tokens.issue(SecretKind.SCIM, None).secret}"}
        with TestClient(create_app(runtime.services), base_url="http://scim.test") as client:
            ids = [
                client.post("/scim/v2/Users", json=entra_user(f"H{n}"), headers=auth).json()["id"]
                for n in range(3)
            ]
            runtime.reconciler.run_once()
            for scim_id in ids:
                client.delete(f"/scim/v2/Users/{scim_id}", headers=auth)
            runtime.reconciler.run_once()
            [hold] = runtime.ledger.holds()
            approvals: list[bool] = []
            runtime.services.on_hold_approved = lambda: approvals.append(True)
            csrf = login(client, admin_key)
            page = client.get("/admin")
            assert "Approve the held changes on identity_store" in page.text
            approved = client.post(f"/admin/holds/{hold['id']}/approve", data={"csrf": csrf})
            assert "The held changes were approved" in approved.text
            assert approvals == [True]
            runtime.reconciler.run_once()
            assert runtime.identities.get("H0") is None
            assert "Approve the held changes" not in client.get("/admin").text
    finally:
        runtime.dispose()
