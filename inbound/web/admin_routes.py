"""The admin API (``/api/v1``), token issuance and health probes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from anyio import to_thread
from litestar import Request, Response, Router, delete, get, post, put
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.params import FromPath

from inbound.auth import SecretKind, admin_actor
from inbound.database.audit import MAX_PAGE
from inbound.errors import ScimError, invalid_value, not_found
from inbound.operator import status_report
from inbound.web.admin_actions import ENTRA_RESTART_SCOPES, AdminActions, EntraRestartError
from inbound.web.responses import decode_json, json_response, read_json
from inbound.web.services import InboundServices

_DIGITS = re.compile("[0-9]{1,19}")
MAX_EVENT_ID = 2**63 - 1
"""Audit event ids are 64-bit integers; a larger ``before`` would overflow the query."""


def audit_page(services: InboundServices, params: Mapping[str, str]) -> dict[str, Any]:
    """``GET /api/v1/audit?scim_id=&before=&limit=``: newest first, paged by event id."""
    if services.console is None:
        raise ScimError(503, "the audit trail is not available in this composition")

    def number(name: str, default: int | None) -> int | None:
        raw = params.get(name)
        if raw in (None, ""):
            return default
        if not _DIGITS.fullmatch(raw) or int(raw) > MAX_EVENT_ID:
            shown = raw if len(raw) <= 24 else raw[:24] + "..."
            raise invalid_value(
                f"'{name}' must be a positive integer no larger than {MAX_EVENT_ID}, got {shown!r}"
            )
        return int(raw)

    limit = number("limit", 100) or 100
    events = services.console.audit.query(
        scim_id=params.get("scim_id") or None, before_id=number("before", None), limit=limit
    )
    return {
        "events": [e.to_json() for e in events],
        "next_before": events[-1].id if len(events) == min(limit, MAX_PAGE) else None,
    }


async def restart_entra(actions: AdminActions, scope: str) -> str:
    """The restart off the event loop: Graph may take its retries' time, and the SCIM
    requests served by the same loop must not wait for it."""
    return await to_thread.run_sync(actions.restart_entra, scope)


def admin_guard_for(services: InboundServices) -> Any:
    """Admits a live admin key and keeps its id on the connection: the actor of the audit
    events that request's changes write."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        scheme, _sep, secret = connection.headers.get("authorization", "").partition(" ")
        key_id = (
            services.tokens.verify(secret.strip(), SecretKind.ADMIN)
            if scheme.lower() == "bearer"
            else None
        )
        connection.state.admin_actor = admin_actor(key_id) if key_id else None
        if key_id is None:
            raise ScimError(
                401,
                "the admin key is required (Authorization: Bearer <admin key>); "
                "it was printed when the service first started",
                headers={"WWW-Authenticate": 'Bearer realm="scim-sync admin"'},
            )

    return guard


def admin_routers(services: InboundServices) -> list[Router]:
    guard = admin_guard_for(services)

    def acting(request: Request[Any, Any, Any]) -> AdminActions:
        """The changes of this request, audited as the admin key the guard admitted."""
        return AdminActions(services, str(request.state.admin_actor))

    @post("/provisioning/token", status_code=201)
    async def provisioning_token(request: Request[Any, Any, Any]) -> Response[bytes]:
        return json_response(acting(request).issue_token("admin API"), 201)

    @get("/status")
    async def status() -> Response[bytes]:
        return json_response(status_report(services))

    @get("/settings")
    async def get_settings() -> Response[bytes]:
        return json_response(
            {
                "scim_enabled": services.live_settings.scim_enabled(),
                "reconcile_interval_seconds": services.live_settings.reconcile_interval(
                    services.default_reconcile_interval
                ),
                "endpoint_url": services.endpoint_url,
            }
        )

    @put("/settings")
    async def put_settings(request: Request[Any, Any, Any]) -> Response[bytes]:
        body = await read_json(request)
        if not isinstance(body, dict):
            raise invalid_value(
                "send a JSON object with scim_enabled and/or reconcile_interval_seconds"
            )
        unknown = set(body) - {"scim_enabled", "reconcile_interval_seconds"}
        if unknown:
            raise invalid_value(f"unknown settings: {', '.join(sorted(unknown))}")
        enabled = body.get("scim_enabled")
        if "scim_enabled" in body and not isinstance(enabled, bool):
            raise invalid_value("scim_enabled must be true or false")
        seconds = body.get("reconcile_interval_seconds")
        if "reconcile_interval_seconds" in body and (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not 1 <= seconds <= 86400
        ):
            raise invalid_value("reconcile_interval_seconds must be a number from 1 to 86400")
        actions = acting(request)
        if isinstance(enabled, bool):
            actions.set_scim_enabled(enabled)
        if isinstance(seconds, int | float):
            actions.set_reconcile_interval(float(seconds))
        return await get_settings.fn()  # type: ignore[no-any-return]

    @get("/tokens")
    async def list_tokens() -> Response[bytes]:
        return json_response([t.to_json() for t in services.tokens.list(SecretKind.SCIM)])

    @post("/tokens", status_code=201)
    async def new_token(request: Request[Any, Any, Any]) -> Response[bytes]:
        return json_response(acting(request).issue_token("admin API"), 201)

    @delete("/tokens/{token_id:str}", status_code=204)
    async def revoke_token(request: Request[Any, Any, Any], token_id: FromPath[str]) -> None:
        if not acting(request).revoke_token(token_id):
            raise not_found(f"no live token with id '{token_id}'")

    @get("/identities/{user_id:str}")
    async def identity(user_id: FromPath[str]) -> Response[bytes]:
        record = services.identity_lookup(user_id)
        if record is None:
            raise not_found(f"no identity with user ID '{user_id}' in the Identity Manager store")
        return json_response(record)

    @get("/dead-letters")
    async def dead_letters() -> Response[bytes]:
        return json_response(services.ledger.dead_letters())

    @post("/dead-letters/{scim_id:str}/retry", status_code=200)
    async def retry(request: Request[Any, Any, Any], scim_id: FromPath[str]) -> Response[bytes]:
        retried = acting(request).retry_dead(None if scim_id == "all" else scim_id)
        return json_response({"retried": retried})

    @post("/dead-letters/{scim_id:str}/skip", status_code=200)
    async def skip(request: Request[Any, Any, Any], scim_id: FromPath[str]) -> Response[bytes]:
        return json_response({"skipped": acting(request).skip_dead(scim_id)})

    @get("/holds")
    async def list_holds() -> Response[bytes]:
        return json_response(services.ledger.holds())

    @post("/holds/{hold_id:int}/approve", status_code=200)
    async def approve_hold(
        request: Request[Any, Any, Any], hold_id: FromPath[int]
    ) -> Response[bytes]:
        approved = acting(request).approve_hold(hold_id)
        if not approved:
            raise not_found(f"no open, unapproved hold with id {hold_id}")
        return json_response({"approved": approved})

    @post("/entra/restart", status_code=200)
    async def entra_restart(request: Request[Any, Any, Any]) -> Response[bytes]:
        raw = await request.body()
        body = decode_json(raw) if raw.strip() else {}
        scope = body.get("scope", "quarantine") if isinstance(body, dict) else None
        if not isinstance(body, dict) or set(body) - {"scope"} or scope not in ENTRA_RESTART_SCOPES:
            raise invalid_value(
                'send {"scope": "quarantine"} or {"scope": "full"} (or no body: quarantine)'
            )
        if services.entra_restart is None:
            raise ScimError(409, "Entra is not watched: set the SCIM_SYNC_GRAPH_* settings")
        try:
            job_id = await restart_entra(acting(request), scope)
        except EntraRestartError as exc:
            raise ScimError(502, f"Graph refused the restart: {exc}") from exc
        return json_response({"job_id": job_id, "scope": scope})

    @get("/audit")
    async def audit_events(request: Request[Any, Any, Any]) -> Response[bytes]:
        return json_response(audit_page(services, request.query_params))

    api = Router(
        "/api/v1",
        route_handlers=[
            status,
            get_settings,
            put_settings,
            list_tokens,
            new_token,
            revoke_token,
            identity,
            dead_letters,
            retry,
            skip,
            list_holds,
            approve_hold,
            entra_restart,
            audit_events,
        ],
        guards=[guard],
    )
    provisioning = Router("/", route_handlers=[provisioning_token], guards=[guard])

    @get("/healthz")
    async def healthz() -> Response[bytes]:
        return json_response({"status": "ok"})

    @get("/readyz")
    async def readyz() -> Response[bytes]:
        problem = services.ready()
        if problem is not None:
            return json_response({"status": "not ready", "reason": problem}, 503)
        services.database.succeeded()
        return json_response({"status": "ready"})

    probes = Router("/", route_handlers=[healthz, readyz])
    return [api, provisioning, probes]
