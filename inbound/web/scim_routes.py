"""The SCIM 2.0 endpoints: thin handlers that parse, call :class:`ScimOperations`, and render."""

from __future__ import annotations

import time
from typing import Any

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
from inbound.web.responses import read_json, scim_response
from inbound.web.scim_ops import Reply, ScimOperations, make_query, search_body
from inbound.web.services import InboundServices

Req = Request[Any, Any, Any]


def _reply(reply: Reply) -> Response[bytes]:
    if reply.body is None:
        return Response(content=b"", status_code=reply.status, headers=reply.headers)
    return scim_response(reply.body, reply.status, reply.headers)


def scim_router(services: InboundServices) -> Router:
    catalog = services.catalog
    ops = ScimOperations(services, catalog)
    bulk = BulkProcessor(ops)
    enabled_cache: dict[str, float | bool] = {"at": 0.0, "value": True}

    def scim_enabled() -> bool:
        now = time.monotonic()
        if now - float(enabled_cache["at"]) > 1.0:
            enabled_cache["value"] = services.runtime.scim_enabled()
            enabled_cache["at"] = now
        return bool(enabled_cache["value"])

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
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
        endpoint = request.url.path.rstrip("/").split("/scim/v2/", 1)[1].split("/", 1)[0]
        return catalog.by_endpoint(endpoint)

    @get(["/Users", "/Groups"])
    async def list_resources(request: Req) -> Response[bytes]:
        return _reply(ops.search(resource_type(request), make_query(request.query_params)))

    @post(["/Users/.search", "/Groups/.search"], status_code=200)
    async def search_type(request: Req) -> Response[bytes]:
        query = search_body(await read_json(request))
        return _reply(ops.search(resource_type(request), query))

    @post("/.search", status_code=200)
    async def search_root(request: Req) -> Response[bytes]:
        return _reply(ops.search_all(search_body(await read_json(request))))

    @post(["/Users", "/Groups"])
    async def create(request: Req) -> Response[bytes]:
        return _reply(ops.create(resource_type(request), await read_json(request), actor(request)))

    @get(["/Users/{scim_id:str}", "/Groups/{scim_id:str}"])
    async def read(request: Req, scim_id: FromPath[str]) -> Response[bytes]:
        reply = ops.get(
            resource_type(request),
            scim_id,
            request.query_params,
            request.headers.get("if-none-match"),
        )
        return _reply(reply)

    @put(["/Users/{scim_id:str}", "/Groups/{scim_id:str}"])
    async def replace(request: Req, scim_id: FromPath[str]) -> Response[bytes]:
        body = await read_json(request)
        reply = ops.replace(
            resource_type(request), scim_id, body, actor(request), request.headers.get("if-match")
        )
        return _reply(reply)

    @patch(["/Users/{scim_id:str}", "/Groups/{scim_id:str}"])
    async def modify(request: Req, scim_id: FromPath[str]) -> Response[bytes]:
        body = await read_json(request)
        reply = ops.patch(
            resource_type(request),
            scim_id,
            body,
            actor(request),
            request.headers.get("if-match"),
            request.query_params,
        )
        return _reply(reply)

    @delete(["/Users/{scim_id:str}", "/Groups/{scim_id:str}"], status_code=204)
    async def remove(request: Req, scim_id: FromPath[str]) -> None:
        ops.delete(resource_type(request), scim_id, actor(request), request.headers.get("if-match"))

    @post("/Bulk", status_code=200)
    async def bulk_request(request: Req) -> Response[bytes]:
        raw = await request.body()
        if len(raw) > MAX_PAYLOAD_BYTES:
            raise ScimError(
                413, f"the bulk request is {len(raw)} bytes; the maximum is {MAX_PAYLOAD_BYTES}"
            )
        return scim_response(bulk.run(await read_json(request), actor(request)))

    return Router(
        "/scim/v2",
        route_handlers=[
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
