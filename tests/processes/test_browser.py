"""The admin page driven in a real browser (Debian chromium through Playwright) over real HTTP.

Flow from the issue: log in, enable the SCIM server, generate a token and use it for a SCIM
request, change the frequency, retry a dead letter; then the same page on a phone-sized
screen, and by keyboard alone. Entra's side: a quarantined job, one user's timeline with an
Entra failure that never reached us, and a confirmed restart the loopback Graph receives. Screenshots go to ``test-artifacts/``.
With CI=true a missing chromium fails these tests; elsewhere they skip.
"""

from __future__ import annotations

import os
import re
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from inbound.auth import SecretKind
from inbound.web.app import create_app
from scheduler.composition import Runtime, compose
from scheduler.settings import Settings
from tests.support import entra_user
from tests.support import fake_graph as graph
from tests.support.admin import RefusingTarget, add_target
from tests.support.loopback import Loopback, Reply

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    sync_playwright = None  # type: ignore[assignment]


def _missing() -> str | None:
    if sync_playwright is None:
        return "the playwright package is not installed"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is not installed (apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    problem = _missing()
    if problem is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser tests are required in CI: {problem}")
        pytest.skip(problem)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Served:
    """The app on uvicorn in a thread, on a socket that listens before the thread starts."""

    def __init__(self, runtime: Runtime) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        runtime.services.public_url = self.url
        config = uvicorn.Config(
            create_app(runtime.services), log_config=None, access_log=False, lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.sock.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Runtime, Served, str]]:
    runtime = compose(Settings(database_url=f"sqlite:///{tmp_path / 'browser.db'}"))
    admin_key = runtime.tokens.issue(SecretKind.ADMIN, None, "browser test").secret
    server = Served(runtime)
    try:
        yield runtime, server, admin_key
    finally:
        server.stop()
        runtime.dispose()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"admin-{name}.png"), full_page=True)


def log_in(page: Page, url: str, admin_key: str) -> None:
    page.goto(f"{url}/admin")
    expect(page).to_have_url(re.compile(r"/admin/login$"))
    page.get_by_label("Admin key").fill(admin_key)
    page.get_by_label("Admin key").press("Enter")
    expect(page.get_by_role("heading", name="SCIM Server", level=1)).to_be_visible()


def test_operator_flow(browser: Browser, served: tuple[Runtime, Served, str]) -> None:
    runtime, server, admin_key = served
    target = RefusingTarget()
    add_target(runtime, target)
    runtime.live_settings.set_scim_enabled(False)
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    page = context.new_page()

    page.goto(f"{server.url}/admin/login")
    shot(page, "1-login")
    log_in(page, server.url, admin_key)
    shot(page, "2-page")

    switch = page.get_by_role("switch")
    expect(switch).to_have_attribute("aria-checked", "false")
    switch.click()
    expect(page.get_by_role("switch")).to_have_attribute("aria-checked", "true")
    expect(page.get_by_role("status")).to_contain_text("The SCIM server is enabled.")
    assert runtime.live_settings.scim_enabled() is True

    page.get_by_role("button", name="Copy URL").click()
    assert page.evaluate("navigator.clipboard.readText()") == f"{server.url}/scim/v2"

    page.get_by_label("Label (optional)").fill("entra")
    page.get_by_role("button", name="Generate token").click()
    token = page.get_by_label(re.compile("^Secret Token")).input_value()
    assert token.startswith("sst_")
    expect(page.locator("#token-countdown")).to_have_text(re.compile(r"^9h 59m \d\ds$"))
    shot(page, "3-token")
    created = httpx.post(
        f"{server.url}/scim/v2/Users",
        json=entra_user("E2001"),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert created.status_code == 201, created.text
    scim_id = created.json()["id"]

    page.get_by_role("link", name="Back to the SCIM Server page").click()
    expect(page.locator("#tokens")).to_contain_text("entra")
    expect(page.locator("#tokens")).not_to_contain_text(token)
    frequency = page.get_by_label("Reconcile every (seconds)")
    frequency.fill("120")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("frequency was saved")
    expect(page.get_by_label("Reconcile every (seconds)")).to_have_value("120")
    assert runtime.live_settings.reconcile_interval(60) == 120

    runtime.reconciler.run_once()
    page.reload()
    dead = page.locator("#dead-letters")
    expect(dead).to_contain_text("objectClassViolation")
    expect(page.locator("#targets")).to_contain_text("objectClassViolation")
    shot(page, "4-dead-letter")
    page.get_by_role("button", name="Retry e2001 on refusing").click()
    expect(page.get_by_role("status")).to_contain_text("put back in line")
    expect(page.locator("#dead-letters")).to_contain_text("None: every target accepted")
    target.refuse = False
    runtime.reconciler.run_once()
    [state] = runtime.ledger.states_of(scim_id, ["refusing"])
    assert state.status == "applied"
    page.reload()
    expect(page.locator("#identities")).to_contain_text("refusing: applied (g1)")
    expect(page.locator("#audit")).to_contain_text("dead_letter.retry")
    shot(page, "5-after-retry")
    context.close()


def test_phone_sized_screen(browser: Browser, served: tuple[Runtime, Served, str]) -> None:
    _runtime, server, admin_key = served
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    log_in(page, server.url, admin_key)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px on a phone"
    button = page.get_by_role("button", name="Generate token").bounding_box()
    assert button is not None and button["x"] + button["width"] <= 390
    shot(page, "6-phone")
    context.close()


def test_keyboard_only(browser: Browser, served: tuple[Runtime, Served, str]) -> None:
    runtime, server, admin_key = served
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{server.url}/admin/login")
    expect(page.get_by_label("Admin key")).to_be_focused()  # autofocus: type at once
    page.keyboard.type(admin_key)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="SCIM Server", level=1)).to_be_visible()

    unlabelled: list[Any] = page.evaluate(
        """[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
            .filter(el => el.labels.length === 0).map(el => el.name || el.id)"""
    )
    assert unlabelled == []
    nameless: list[Any] = page.evaluate(
        """[...document.querySelectorAll('button, a[href]')]
            .filter(el => !(el.getAttribute('aria-label') || el.textContent.trim()))
            .map(el => el.outerHTML)"""
    )
    assert nameless == []

    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    order: list[str] = []
    for _ in range(30):
        page.keyboard.press("Tab")
        order.append(
            page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()")
        )
        if order[-1] == "scim-switch":
            break
    assert order[-1] == "scim-switch", order
    assert order.index("Log out") < order.index("scim-switch")
    page.keyboard.press("Space")
    expect(page.get_by_role("switch")).to_have_attribute("aria-checked", "false")
    assert runtime.live_settings.scim_enabled() is False
    context.close()


@pytest.fixture
def served_watching_entra(tmp_path: Path) -> Iterator[tuple[Runtime, Served, str, Loopback]]:
    """The service with Graph settings pointing at a loopback Graph and its authority."""
    with Loopback().running() as fake_graph:
        graph.authority_ok(fake_graph)
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'entra.db'}", graph=graph.settings(fake_graph.url)
        )
        runtime = compose(settings)
        admin_key = runtime.tokens.issue(SecretKind.ADMIN, None, "browser test").secret
        server = Served(runtime)
        try:
            yield runtime, server, admin_key, fake_graph
        finally:
            server.stop()
            runtime.dispose()


def test_entra_side_and_restart(
    browser: Browser, served_watching_entra: tuple[Runtime, Served, str, Loopback]
) -> None:
    runtime, server, admin_key, fake_graph = served_watching_entra
    token = runtime.tokens.issue(SecretKind.SCIM, runtime.settings.token_ttl).secret
    created = httpx.post(
        f"{server.url}/scim/v2/Users",
        json=entra_user("E3001"),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert created.status_code == 201, created.text
    scim_id = created.json()["id"]
    now = datetime.now(UTC)
    fake_graph.route(
        "GET",
        graph.JOB_PATH,
        Reply(200, graph.job("Quarantine", quarantined_since=now - timedelta(hours=2))),
    )
    lost = graph.entry(
        "lost",
        now - timedelta(hours=1),
        action="create",
        status="failure",
        target_id=scim_id,
        error_code="SystemForCrossDomainIdentityManagementServiceUnavailable",
    )
    delivered = graph.entry("delivered", now, action="create", target_id=scim_id)
    graph.serve_logs(fake_graph, [[lost, delivered]])
    assert runtime.entra_watch is not None
    assert runtime.entra_watch.poll(force=True)["entries_added"] == 2
    fake_graph.route("POST", f"{graph.JOB_PATH}/restart", Reply(204))

    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    log_in(page, server.url, admin_key)
    state = page.locator("#entra-state")
    expect(state).to_contain_text(f"Job {graph.JOB}: quarantine")
    expect(state).to_contain_text("reason EncounteredQuarantineException")
    page.locator("#entra").scroll_into_view_if_needed()
    shot(page, "7-entra-quarantine")

    page.get_by_label("User ID, group name or SCIM id").fill("E3001")
    page.get_by_role("button", name="Show timeline").click()
    timeline = page.locator("#timeline")
    expect(timeline.locator("tr.flagged")).to_have_count(1)
    expect(timeline.locator("tr.flagged")).to_contain_text("never reached us")
    expect(timeline).to_contain_text("change-delivered")
    expect(page.locator("#never-reached")).to_contain_text("1 Entra failure(s) never reached us")
    page.locator("#object").scroll_into_view_if_needed()
    shot(page, "8-entra-timeline")

    page.get_by_label("Restart scope").select_option("full")
    page.get_by_role("button", name="Restart provisioning").click()
    expect(page.get_by_role("heading", name="Restart Entra's provisioning job?")).to_be_visible()
    assert all(r.path != f"{graph.JOB_PATH}/restart" for r in fake_graph.requests)
    shot(page, "9-entra-confirm")
    page.get_by_role("button", name="Yes, restart (full)").click()
    expect(page.get_by_role("status")).to_contain_text("provisioning job was restarted")
    [restart] = [r for r in fake_graph.requests if r.path == f"{graph.JOB_PATH}/restart"]
    assert restart.json() == {"criteria": {"resetScope": "Watermark,Escrows,QuarantineState"}}
    [admin] = runtime.tokens.list(SecretKind.ADMIN, live_only=True)
    expect(page.locator("#audit")).to_contain_text(f"admin:{admin.id}entra restart")
    page.locator("#audit").scroll_into_view_if_needed()
    shot(page, "10-entra-restarted")
    context.close()

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    small = phone.new_page()
    log_in(small, server.url, admin_key)
    small.goto(f"{server.url}/admin?object=E3001#object")
    overflow = small.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the Entra card or the timeline scrolls sideways by {overflow}px"
    shot(small, "11-entra-phone")
    phone.close()
