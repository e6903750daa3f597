"""The ``/admin`` handlers: thin — check the session, call a service, audit, redirect.

Every change is a POST form followed by a redirect (no resubmission on reload), so the page
works without JavaScript; the one exception is a new token, which is shown once on its own
page and never stored anywhere it could be shown again.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.datastructures import CacheControlHeader
from litestar.params import FromPath
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router

from inbound.auth import SecretKind, admin_actor
from inbound.web.admin_actions import ENTRA_RESTART_SCOPES, AdminActions, EntraRestartError
from inbound.web.admin_page.login import (
    CsrfRefusedError,
    LoginRequiredError,
    checked_form,
    cleared_cookie,
    console_of,
    operator,
    session_cookie,
)
from inbound.web.admin_page.views import human_seconds, page_context, when
from inbound.web.admin_routes import restart_entra
from inbound.web.services import InboundServices

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
TEMPLATE_DIR = Path(__file__).parent / "templates"
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
MIN_INTERVAL, MAX_INTERVAL = 1, 86400


def _to_login(_: Request[Any, Any, Any], __: LoginRequiredError) -> Response[Any]:
    return Redirect("/admin/login", status_code=303)


def _csrf_refused(_: Request[Any, Any, Any], __: CsrfRefusedError) -> Response[Any]:
    return Template(
        "refused.html",
        context={"reason": "The form was stale or came from another page. Reload and try again."},
        status_code=403,
    )


def _back(notice: str, anchor: str) -> Redirect:
    return Redirect(f"/admin?notice={notice}#{anchor}", status_code=303)


def configure_templates(engine: JinjaTemplateEngine) -> None:
    engine.engine.filters["when"] = when


def static_router() -> Router:
    """The page's own CSS and script, shipped as package data: no external assets."""
    return create_static_files_router(
        path="/admin/static",
        directories=[STATIC_DIR],
        cache_control=CacheControlHeader(max_age=300),
        name="admin-static",
    )


def admin_page_router(services: InboundServices) -> Router:
    console = console_of(services)

    def page(request: Request[Any, Any, Any], status: int = 200, **extra: Any) -> Template:
        who = operator(request, services)
        q = request.query_params
        context = page_context(
            services,
            query=q.get("q", "").strip()[:200],
            audit_scim_id=q.get("audit", "").strip()[:64],
            notice=q.get("notice", ""),
            object_query=q.get("object", "").strip()[:256],
        )
        return Template(
            "page.html", context={**context, **extra, "csrf": who.csrf_token}, status_code=status
        )

    @get("/")
    async def index(request: Request[Any, Any, Any]) -> Template:
        return page(request)

    @get("/login")
    async def login_form(request: Request[Any, Any, Any]) -> Response[Any]:
        try:
            operator(request, services)
        except LoginRequiredError:
            notice = "You are logged out." if request.query_params.get("out") else ""
            return Template("login.html", context={"error": "", "notice": notice})
        return Redirect("/admin", status_code=303)

    @post("/login", status_code=303)
    async def login(request: Request[Any, Any, Any]) -> Response[Any]:
        form = await request.form()
        key = str(form.get("admin_key", "")).strip()
        token_id = services.tokens.verify(key, SecretKind.ADMIN)
        if token_id is None:
            log.warning("admin login refused")
            error = (
                "That is a SCIM token; log in with the admin key."
                if services.tokens.verify(key, SecretKind.SCIM)
                else "That is not a valid admin key."
            )
            return Template("login.html", context={"error": error, "notice": ""}, status_code=401)
        secret = console.sessions.open(token_id)
        console.audit.append(admin_actor(token_id), "admin.login")
        log.info("admin logged in", extra={"admin_token_id": token_id})
        max_age = int(console.sessions.ttl.total_seconds())
        return Redirect(
            "/admin",
            status_code=303,
            cookies=[session_cookie(request, services, secret, max_age)],
        )

    @post("/logout", status_code=303)
    async def logout(request: Request[Any, Any, Any]) -> Response[Any]:
        who, _ = await checked_form(request, services)
        console.sessions.close(who.secret)
        console.audit.append(who.actor, "admin.logout")
        return Redirect(
            "/admin/login?out=1", status_code=303, cookies=[cleared_cookie(request, services)]
        )

    @post("/scim", status_code=303)
    async def switch(request: Request[Any, Any, Any]) -> Response[Any]:
        who, form = await checked_form(request, services)
        enabled = form.get("enabled") == "true"
        AdminActions(services, who.actor).set_scim_enabled(enabled)
        return _back("enabled" if enabled else "disabled", "scim")

    @post("/tokens", status_code=200)
    async def generate(request: Request[Any, Any, Any]) -> Template:
        who, form = await checked_form(request, services)
        label = form.get("label", "").strip()[:128] or "admin page"
        issued = AdminActions(services, who.actor).issue_token(label)
        expires_in = services.token_ttl.total_seconds()
        return Template(
            "token.html",
            context={
                **issued,
                "expires_in": human_seconds(expires_in),
                "csrf": who.csrf_token,
            },
        )

    @post("/tokens/{token_id:str}/revoke", status_code=303)
    async def revoke(request: Request[Any, Any, Any], token_id: FromPath[str]) -> Response[Any]:
        who, _ = await checked_form(request, services)
        revoked = AdminActions(services, who.actor).revoke_token(token_id)
        return _back("revoked" if revoked else "", "tokens")

    @post("/frequency", status_code=303)
    async def frequency(request: Request[Any, Any, Any]) -> Response[Any]:
        who, form = await checked_form(request, services)
        raw = form.get("seconds", "").strip()
        try:
            seconds = float(raw)
        except ValueError:
            seconds = float("nan")
        if not MIN_INTERVAL <= seconds <= MAX_INTERVAL:
            return page(
                request,
                400,
                frequency_error=(
                    f"Enter a number of seconds from {MIN_INTERVAL} to {MAX_INTERVAL} "
                    f"(got {raw[:20]!r})."
                ),
            )
        AdminActions(services, who.actor).set_reconcile_interval(seconds)
        return _back("frequency", "frequency")

    @post("/dead-letters/{scim_id:str}/{action:str}", status_code=303)
    async def dead_letter(
        request: Request[Any, Any, Any], scim_id: FromPath[str], action: FromPath[str]
    ) -> Response[Any]:
        who, form = await checked_form(request, services)
        target = form.get("target") or None
        actions = AdminActions(services, who.actor)
        if action == "retry":
            actions.retry_dead(scim_id, target)
        elif action == "skip":
            actions.skip_dead(scim_id, target)
        else:
            return Template("refused.html", context={"reason": "Unknown action."}, status_code=404)
        return _back("retried" if action == "retry" else "skipped", "dead-letters")

    @post("/holds/{hold_id:int}/approve", status_code=303)
    async def approve(request: Request[Any, Any, Any], hold_id: FromPath[int]) -> Response[Any]:
        who, _ = await checked_form(request, services)
        approved = AdminActions(services, who.actor).approve_hold(hold_id)
        return _back("approved" if approved else "", "holds")

    @post("/entra/restart", status_code=303)
    async def entra_restart(request: Request[Any, Any, Any]) -> Response[Any]:
        """Two steps, both server-side: the button only asks (a page naming the job and the
        scope), and only the form on that page, carrying ``confirmed``, restarts."""
        who, form = await checked_form(request, services)
        scope = form.get("scope", "")
        if scope not in ENTRA_RESTART_SCOPES:
            return page(request, 400, entra_error="Choose the scope: quarantine or full.")
        if form.get("confirmed") != "yes":
            report = console.entra.report() or {}
            return Template(
                "confirm_restart.html",
                context={"scope": scope, "job_id": report.get("job_id"), "csrf": who.csrf_token},
                status_code=200,
            )
        try:
            await restart_entra(AdminActions(services, who.actor), scope)
        except EntraRestartError as exc:
            return page(request, 502, entra_error=f"Entra's job was not restarted: {exc}")
        return _back("entra-restarted", "entra")

    return Router(
        "/admin",
        route_handlers=[
            index,
            login_form,
            login,
            logout,
            switch,
            generate,
            revoke,
            frequency,
            dead_letter,
            approve,
            entra_restart,
        ],
        exception_handlers={LoginRequiredError: _to_login, CsrfRefusedError: _csrf_refused},
        response_headers=SECURITY_HEADERS,
    )
