"""The SCIM 2.0 endpoints: thin handlers that parse, call :class:`ScimOperations`, and render."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anyio
from litestar import Request, Response, Router, delete, get, patch, post, put
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.params import FromPath

from inbound.auth import SecretKind
from inbound.errors import ScimError
from inbound.schema import ResourceType
from inbound.staging.store import Actor
from inbound.web.bulk import MAX_PAYLOAD_BYTES, BulkProcessor
from inbound.web.discovery_routes import discovery_handlers
from inbound.web.openapi import openapi_document
from inbound.web.responses import json_response, read_json, scim_response
from inbound.web.scim_ops import Reply, ScimOperations, make_query, search_body
from inbound.web.services import InboundServices

Req = Request[Any, Any, Any]
OFFLOAD_THREADS = 16


def _reply(reply: Reply) -> Response[bytes]:
    if reply.body is None:
        return Response(content=b"", status_code=reply.status, headers=reply.headers)
    return scim_response(reply.body, reply.status, reply.headers)


def scim_router(services: InboundServices) -> Router:
    """The SCIM routes. On SQLite the store runs in the event loop: a local call takes
    microseconds and a thread hop would cost more. On PostgreSQL reads run in the loop too
    (autocommit, one round trip per statement), while writes go to worker threads: a commit
    waits for the server's WAL flush, and in threads the commits of concurrent requests
    overlap instead of queueing behind one another."""
    catalog = services.catalog
    limiter = anyio.CapacityLimiter(OFFLOAD_THREADS) if services.store.blocking else None

    async def run(call: Callable[[], Reply], *, write: bool = True) -> Reply:
        if limiter is None or not write:
            return call()
        return await anyio.to_thread.run_sync(call, limiter=limiter)

    ops = ScimOperations(services, catalog)
    bulk = BulkProcessor(ops)
    enabled_cache: dict[str, float | bool] = {"at": 0.0, "value": True}

    def scim_enabled() -> bool:
        now = time.monotonic()
        if now - float(enabled_cache["at"]) > 1.0:
            enabled_cache["value"] = services.runtime.scim_enabled()
            enabled_cache["at"] = now
        return bool(enabled_cache["value"])

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        """Async on purpose: Litestar runs a sync guard in a worker thread, which cost more
        than the whole request (the token check is cached and takes microseconds)."""
        header = connection.headers.get("authorization", "")
        scheme, _sep, secret = header.partition(" ")
        token_id = (
            services.tokens.verify(secret.strip(), SecretKind.SCIM)
            if scheme.lower() == "bearer"
            else None
        )
        if token_id is None:
            raise ScimError(
                401,
                "a valid SCIM bearer token is required (Authorization: Bearer <token>); "
                "generate one with 'scim-sync token issue' or on the admin page",
                headers={"WWW-Authenticate": 'Bearer realm="scim-sync"'},
            )
        if not scim_enabled():
            raise ScimError(503, "the SCIM server is disabled; an administrator can enable it")
        connection.state.actor = f"token:{token_id}"

    def actor(request: Req) -> Actor:
        return Actor(str(request.state.actor), request.headers.get("x-request-id"))

    def resource_type(request: Req) -> ResourceType:
        # the raw scope path: building request.url cost more than the database lookup
        path: str = request.scope["path"]
        endpoint = path.split("/scim/v2/", 1)[1].split("/", 1)[0]
        return catalog.by_endpoint(endpoint)

    @get(["/Users", "/Groups"])
    async def list_resources(request: Req) -> Response[bytes]:
        rt, query = resource_type(request), make_query(request.query_params)
        return _reply(await run(lambda: ops.search(rt, query), write=False))

    @post(["/Users/.search", "/Groups/.search"], status_code=200)
    async def search_type(request: Req) -> Response[bytes]:
        rt, query = resource_type(request), search_body(await read_json(request))
        return _reply(await run(lambda: ops.search(rt, query), write=False))

    @post("/.search", status_code=200)
    async def search_root(request: Req) -> Response[bytes]:
        query = search_body(await read_json(request))
        return _reply(await run(lambda: ops.search_all(query), write=False))

    @post(["/Users", "/Groups"])
    async def create(request: Req) -> Response[bytes]:
        rt, body, who = resource_type(request), await read_json(request), actor(request)
        return _reply(await run(lambda: ops.create(rt, body, who)))

    @get(["/Users/{scim_id:str}", "/Groups/{scim_id:str}"])
    async def read(request: Req, scim_id: FromPath[str]) -> Response[bytes]:
        rt, params = resource_type(request), request.query_params
        if_none_match = request.headers.get("if-none-match")
        return _reply(await run(lambda: ops.get(rt, scim_id, params, if_none_match), write=False))

    @put(["/Users/{scim_id:str}", "/Groups/{scim_id:str}"])
    async def replace(request: Req, scim_id: FromPath[str]) -> Response[bytes]:
        rt, body, who = resource_type(request), await read_json(request), actor(request)
        if_match = request.headers.get("if-match")
        return _reply(await run(lambda: ops.replace(rt, scim_id, body, who, if_match)))

    @patch(["/Users/{scim_id:str}", "/Groups/{scim_id:str}"])
    async def modify(request: Req, scim_id: FromPath[str]) -> Response[bytes]:
        rt, body, who = resource_type(request), await read_json(request), actor(request)
        if_match, params = request.headers.get("if-match"), request.query_params
        return _reply(await run(lambda: ops.patch(rt, scim_id, body, who, if_match, params)))

    @delete(["/Users/{scim_id:str}", "/Groups/{scim_id:str}"], status_code=204)
    async def remove(request: Req, scim_id: FromPath[str]) -> None:
        rt, who, if_match = resource_type(request), actor(request), request.headers.get("if-match")
        await run(lambda: ops.delete(rt, scim_id, who, if_match))

    @post("/Bulk", status_code=200)
    async def bulk_request(request: Req) -> Response[bytes]:
        raw = await request.body()
        if len(raw) > MAX_PAYLOAD_BYTES:
            raise ScimError(
                413, f"the bulk request is {len(raw)} bytes; the maximum is {MAX_PAYLOAD_BYTES}"
            )
        body, who = await read_json(request), actor(request)
        return _reply(await run(lambda: Reply(200, bulk.run(body, who))))

    @get("/openapi.json")
    async def openapi() -> Response[bytes]:
        return json_response(openapi_document(services.endpoint_url))

    return Router(
        "/scim/v2",
        route_handlers=[
            openapi,
            list_resources,
            search_type,
            search_root,
            create,
            read,
            replace,
            modify,
            remove,
            bulk_request,
            *discovery_handlers(services, catalog),
        ],
        guards=[guard],
    )
