"""The SCIM 2.0 routes: thin handlers that parse, call :class:`ScimOperations`, and render."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
from litestar import Request, Response, Router, asgi, get, post
from litestar.connection import ASGIConnection
from litestar.handlers import ASGIRouteHandler, BaseRouteHandler
from litestar.types import Receive, Scope, Send

from inbound.errors import ScimError
from inbound.staging.store import Actor
from inbound.web.bulk import MAX_PAYLOAD_BYTES, BulkProcessor
from inbound.web.discovery_routes import discovery_handlers
from inbound.web.openapi import openapi_document
from inbound.web.responses import decode_json, json_response, read_json, scim_response
from inbound.web.scim_endpoint import MAX_SEARCH_BODY_BYTES, ResourceEndpoint, ScimGate
from inbound.web.scim_ops import Reply, ScimOperations, search_body
from inbound.web.services import InboundServices
from inbound.web.write_batches import WriteBatcher

Req = Request[Any, Any, Any]
OFFLOAD_THREADS = 16
WRITE_BATCHES_IN_FLIGHT = 4
"""PostgreSQL: batches of writes running at once, each on its own connection and thread."""
SLOW_READ_THREADS = 2
"""Searches with a general filter, a sort or no filter, run at once in worker threads: the
event loop's thread keeps answering lookups, writes and probes meanwhile."""


def _reply(reply: Reply) -> Response[bytes]:
    if reply.body is None:
        return Response(content=b"", status_code=reply.status, headers=reply.headers)
    return scim_response(reply.body, reply.status, reply.headers)


def scim_routers(
    services: InboundServices, *, max_body_bytes: int
) -> tuple[list[Router], list[ResourceEndpoint]]:
    """The SCIM routes. On SQLite the store runs in the event loop: a local call takes
    microseconds and a thread hop would cost more; writes that arrive together share one
    commit (:mod:`inbound.web.write_batches`); a search that may be slow runs in a worker
    thread (:func:`~inbound.web.scim_ops.may_be_slow`). On PostgreSQL reads run in the loop too
    (autocommit, one round trip per statement), while writes go to worker threads in batches:
    a commit waits for the server's WAL flush, and a few batches at once overlap their round
    trips instead of queueing behind one another.

    /Users and /Groups are ASGI mounts (:mod:`inbound.web.scim_endpoint`); the rarer routes
    (root search, Bulk, discovery) are ordinary Litestar handlers behind the same gate. The
    endpoints are returned too, for :class:`~inbound.web.scim_endpoint.DirectRoutes`."""
    catalog = services.catalog
    limiter = anyio.CapacityLimiter(OFFLOAD_THREADS) if services.store.blocking else None

    async def offload(call: Callable[[], Any]) -> Any:
        return await anyio.to_thread.run_sync(call, limiter=limiter)

    batcher = WriteBatcher[Reply](
        lambda: services.store.write_batch(),
        offload=offload if limiter is not None else None,
        max_in_flight=WRITE_BATCHES_IN_FLIGHT,
        retry_alone=limiter is not None,
        lock_ahead=lambda ids: services.store.lock_ahead(ids),
        no_wait=services.store.without_lock_wait,
        wait_elsewhere=offload,
    )

    slow_reads = anyio.CapacityLimiter(SLOW_READ_THREADS)

    async def run(
        call: Callable[[], Reply],
        write: bool = True,
        changes: str | None = None,
        *,
        slow: bool = False,
    ) -> Reply:
        if not write:
            if slow:  # another thread borrows a pooled connection (see ``Rows``)
                return await anyio.to_thread.run_sync(call, limiter=slow_reads)
            return call()
        return await batcher.run(call, changes)

    async def run_alone(call: Callable[[], Reply]) -> Reply:
        """A bulk request is many writes with its own error handling: never in a batch, and
        in a thread on SQLite too, where waiting for the write lock blocks nothing else."""
        reply: Reply = await offload(call)
        return reply

    ops = ScimOperations(services, catalog)
    bulk = BulkProcessor(ops)
    gate = ScimGate(services)

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        """Async on purpose: Litestar runs a sync guard in a worker thread."""
        connection.state.actor = gate.admit(connection.headers.get("authorization", ""))

    def actor(request: Req) -> Actor:
        return Actor(str(request.state.actor), request.headers.get("x-request-id"))

    @post("/.search", status_code=200)
    async def search_root(request: Req) -> Response[bytes]:
        raw = await request.body()
        if len(raw) > MAX_SEARCH_BODY_BYTES:
            raise ScimError(
                413,
                f"the request body is larger than {MAX_SEARCH_BODY_BYTES:,} bytes, "
                "the maximum here",
            )
        query = search_body(decode_json(raw))
        return _reply(await run(lambda: ops.search_all(query), write=False, slow=True))

    @post("/Bulk", status_code=200)
    async def bulk_request(request: Req) -> Response[bytes]:
        raw = await request.body()
        if len(raw) > MAX_PAYLOAD_BYTES:
            raise ScimError(
                413, f"the bulk request is {len(raw)} bytes; the maximum is {MAX_PAYLOAD_BYTES}"
            )
        body, who = await read_json(request), actor(request)
        return _reply(await run_alone(lambda: Reply(200, bulk.run(body, who))))

    @get("/openapi.json")
    async def openapi() -> Response[bytes]:
        return json_response(openapi_document(services.endpoint_url))

    endpoints = [
        ResourceEndpoint(rt, ops, gate, run, max_body_bytes=max_body_bytes) for rt in catalog.types
    ]
    mounts = [_mount(endpoint) for endpoint in endpoints]
    guarded = Router(
        "/scim/v2",
        route_handlers=[
            openapi,
            search_root,
            bulk_request,
            *discovery_handlers(services, catalog),
        ],
        guards=[guard],
    )
    return [guarded, Router("/scim/v2", route_handlers=mounts)], endpoints


def _mount(endpoint: ResourceEndpoint) -> ASGIRouteHandler:
    """``copy_scope=False``: the endpoint records its route template in the scope for the
    request log and metrics, which read it after the response."""

    @asgi(f"/{endpoint.rt.endpoint}", is_mount=True, copy_scope=False)
    async def resource_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        await endpoint(scope, receive, send)

    return resource_endpoint
