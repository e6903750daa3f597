"""The SCIM route table: every path under ``/scim/v2`` and the handler of each method.

A handler reads what it needs from the request (query, headers, body), hands the operation to
:class:`~inbound.web.offload.Offload` (which decides where it runs) and returns its
:class:`~inbound.web.scim_ops.Reply`; :class:`~inbound.web.scim_endpoint.ScimEndpoint`
routes, admits, and renders the reply or the error.
"""

from __future__ import annotations

from inbound.schema import ResourceType
from inbound.web.bulk import MAX_PAYLOAD_BYTES, BulkProcessor
from inbound.web.discovery_routes import discovery_routes
from inbound.web.offload import Offload
from inbound.web.openapi import openapi_document
from inbound.web.scim_endpoint import Route, ScimRequest
from inbound.web.scim_ops import Reply, ScimOperations, make_query, may_be_slow, search_body
from inbound.web.services import InboundServices

MAX_SEARCH_BODY_BYTES = 64 * 1024
"""A SearchRequest holds a filter (at most 4,096 characters) and attribute lists: 64 KiB is
ample, and a larger body is refused before it is read whole or decoded."""


def scim_routes(services: InboundServices, offload: Offload) -> list[Route]:
    """/Users and /Groups (each resource type of the catalog), the root ``/.search``,
    ``/Bulk``, discovery and the OpenAPI document."""
    ops = ScimOperations(services, services.catalog)
    resources = [_resource_route(ResourceHandlers(rt, ops, offload)) for rt in ops.catalog.types]
    root = RootHandlers(ops, offload, services)
    return [
        *resources,
        Route(".search", {"POST": root.search_all}),
        Route("Bulk", {"POST": root.bulk}),
        *discovery_routes(services, ops.catalog),
        Route("openapi.json", {"GET": root.openapi}),
    ]


def _resource_route(handlers: ResourceHandlers) -> Route:
    return Route(
        handlers.rt.endpoint,
        {"GET": handlers.list, "POST": handlers.create},
        {
            "GET": handlers.get,
            "PUT": handlers.replace,
            "PATCH": handlers.patch,
            "DELETE": handlers.delete,
        },
        search=handlers.search,
    )


class ResourceHandlers:
    """One resource type's endpoint: ``/{Users|Groups}``, ``/.search`` and ``/{id}``."""

    def __init__(self, rt: ResourceType, ops: ScimOperations, offload: Offload) -> None:
        self.rt = rt
        self._ops = ops
        self._offload = offload

    async def list(self, request: ScimRequest) -> Reply:
        rt, ops, query = self.rt, self._ops, make_query(request.params())
        return await self._offload.read(lambda: ops.search(rt, query), slow=may_be_slow(query))

    async def search(self, request: ScimRequest) -> Reply:
        rt, ops = self.rt, self._ops
        query = search_body(await request.body(MAX_SEARCH_BODY_BYTES))
        return await self._offload.read(lambda: ops.search(rt, query), slow=may_be_slow(query))

    async def create(self, request: ScimRequest) -> Reply:
        rt, ops, actor, body = self.rt, self._ops, request.actor, await request.body()
        return await self._offload.write(lambda: ops.create(rt, body, actor))

    async def get(self, request: ScimRequest) -> Reply:
        rt, ops, scim_id, params = self.rt, self._ops, request.resource_id, request.params()
        if_none_match = request.header(b"if-none-match")
        return await self._offload.read(lambda: ops.get(rt, scim_id, params, if_none_match))

    async def patch(self, request: ScimRequest) -> Reply:
        rt, ops, scim_id, actor = self.rt, self._ops, request.resource_id, request.actor
        if_match, params, body = request.header(b"if-match"), request.params(), await request.body()
        return await self._offload.write(
            lambda: ops.patch(rt, scim_id, body, actor, if_match, params), scim_id
        )

    async def replace(self, request: ScimRequest) -> Reply:
        rt, ops, scim_id, actor = self.rt, self._ops, request.resource_id, request.actor
        if_match, body = request.header(b"if-match"), await request.body()
        return await self._offload.write(
            lambda: ops.replace(rt, scim_id, body, actor, if_match), scim_id
        )

    async def delete(self, request: ScimRequest) -> Reply:
        rt, ops, scim_id, actor = self.rt, self._ops, request.resource_id, request.actor
        if_match = request.header(b"if-match")
        return await self._offload.write(lambda: ops.delete(rt, scim_id, actor, if_match), scim_id)


class RootHandlers:
    """The routes below ``/scim/v2`` that belong to no resource type."""

    def __init__(self, ops: ScimOperations, offload: Offload, services: InboundServices) -> None:
        self._ops = ops
        self._offload = offload
        self._bulk = BulkProcessor(ops)
        self._services = services

    async def search_all(self, request: ScimRequest) -> Reply:
        query = search_body(await request.body(MAX_SEARCH_BODY_BYTES))
        return await self._offload.read(lambda: self._ops.search_all(query), slow=True)

    async def bulk(self, request: ScimRequest) -> Reply:
        body, actor, bulk = await request.body(MAX_PAYLOAD_BYTES), request.actor, self._bulk
        return await self._offload.alone(lambda: Reply(200, bulk.run(body, actor)))

    async def openapi(self, request: ScimRequest) -> Reply:
        document = openapi_document(self._services.endpoint_url)
        return Reply(200, document, {"Content-Type": "application/json"})
