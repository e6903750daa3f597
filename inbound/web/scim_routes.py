"""The SCIM 2.0 endpoints: thin handlers that parse, call the staging store, and render."""

from __future__ import annotations

import time
from typing import Any

from litestar import Request, Response, Router, delete, get, patch, post, put
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.params import FromPath

from inbound.auth import SecretKind
from inbound.errors import ScimError, invalid_value
from inbound.filter import parse_filter
from inbound.render import Projection, parse_projection, render
from inbound.schema import GROUP_TYPE, RESOURCE_TYPES, USER_TYPE, ResourceType, all_schemas
from inbound.staging.store import Actor, Stored
from inbound.web.responses import LIST_SCHEMA, read_json, scim_response
from inbound.web.services import InboundServices

MAX_RESULTS = 1000
_BY_ENDPOINT = {"Users": USER_TYPE, "Groups": GROUP_TYPE}


def _int_param(request: Request[Any, Any, Any], name: str, default: int | None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise invalid_value(f"'{name}' must be an integer, got {raw!r}") from None


def scim_router(services: InboundServices) -> Router:
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

    def base() -> str:
        return services.endpoint_url

    def actor(request: Request[Any, Any, Any]) -> Actor:
        return Actor(str(request.state.actor), request.headers.get("x-request-id"))

    def out(
        rt: ResourceType, stored: Stored, projection: Projection | None = None
    ) -> dict[str, Any]:
        return render(
            rt,
            scim_id=stored.scim_id,
            data=stored.data,
            created=stored.created_at,
            modified=stored.updated_at,
            generation=stored.generation,
            base_url=base(),
            members=stored.members,
            groups=stored.groups,
            projection=projection,
        )

    def one(
        rt: ResourceType, stored: Stored, status: int = 200, projection: Projection | None = None
    ) -> Response[bytes]:
        headers = {"ETag": stored.etag}
        if status == 201:
            headers["Location"] = f"{base()}/{rt.endpoint}/{stored.scim_id}"
        return scim_response(out(rt, stored, projection), status, headers)

    def projection_of(rt: ResourceType, request: Request[Any, Any, Any]) -> Projection:
        return parse_projection(
            rt,
            request.query_params.get("attributes"),
            request.query_params.get("excludedAttributes"),
        )

    def search(rt: ResourceType, params: dict[str, Any]) -> Response[bytes]:
        text = params.get("filter")
        node = parse_filter(text) if text else None
        projection = parse_projection(
            rt, params.get("attributes"), params.get("excludedAttributes")
        )
        start = max(1, params.get("startIndex") or 1)
        count = params.get("count")
        count = MAX_RESULTS if count is None else max(0, min(count, MAX_RESULTS))
        total, page = services.store.search(
            rt,
            node,
            start_index=start,
            count=count,
            with_members=projection.wants_members,
            with_groups=projection.wants_groups,
        )
        body: dict[str, Any] = {
            "schemas": [LIST_SCHEMA],
            "totalResults": total,
            "itemsPerPage": len(page),
            "startIndex": start,
            "Resources": [out(rt, s, projection) for s in page],
        }
        return scim_response(body)

    def query_params(request: Request[Any, Any, Any]) -> dict[str, Any]:
        q = request.query_params
        return {
            "filter": q.get("filter"),
            "attributes": q.get("attributes"),
            "excludedAttributes": q.get("excludedAttributes"),
            "startIndex": _int_param(request, "startIndex", None),
            "count": _int_param(request, "count", None),
        }

    def resource_type(request: Request[Any, Any, Any]) -> ResourceType:
        endpoint = request.url.path.rstrip("/").split("/scim/v2/", 1)[1].split("/", 1)[0]
        return _BY_ENDPOINT[endpoint]

    @get(["/Users", "/Groups"])
    async def list_resources(request: Request[Any, Any, Any]) -> Response[bytes]:
        return search(resource_type(request), query_params(request))

    @post(["/Users/.search", "/Groups/.search"], status_code=200)
    async def search_post(request: Request[Any, Any, Any]) -> Response[bytes]:
        body = await read_json(request)
        if not isinstance(body, dict):
            raise invalid_value("a search body must be a JSON object")
        params = {k: body.get(k) for k in ("filter", "startIndex", "count")}
        for key in ("attributes", "excludedAttributes"):
            value = body.get(key)
            params[key] = ",".join(value) if isinstance(value, list) else value
        for key in ("startIndex", "count"):
            if params[key] is not None and not isinstance(params[key], int):
                raise invalid_value(f"'{key}' must be an integer")
        return search(resource_type(request), params)

    @post(["/Users", "/Groups"])
    async def create(request: Request[Any, Any, Any]) -> Response[bytes]:
        rt = resource_type(request)
        stored = services.store.create(rt, await read_json(request), actor(request))
        return one(rt, stored, 201)

    @get(["/Users/{scim_id:str}", "/Groups/{scim_id:str}"])
    async def read(request: Request[Any, Any, Any], scim_id: FromPath[str]) -> Response[bytes]:
        rt = resource_type(request)
        projection = projection_of(rt, request)
        stored = services.store.get(
            rt, scim_id, with_members=projection.wants_members, with_groups=projection.wants_groups
        )
        if request.headers.get("if-none-match") in (stored.etag, stored.etag.removeprefix("W/")):
            return Response(content=b"", status_code=304, headers={"ETag": stored.etag})
        return one(rt, stored, projection=projection)

    @put(["/Users/{scim_id:str}", "/Groups/{scim_id:str}"])
    async def replace(request: Request[Any, Any, Any], scim_id: FromPath[str]) -> Response[bytes]:
        rt = resource_type(request)
        stored = services.store.replace(
            rt, scim_id, await read_json(request), actor(request), request.headers.get("if-match")
        )
        return one(rt, stored)

    @patch(["/Users/{scim_id:str}", "/Groups/{scim_id:str}"])
    async def modify(request: Request[Any, Any, Any], scim_id: FromPath[str]) -> Response[bytes]:
        rt = resource_type(request)
        stored = services.store.patch(
            rt, scim_id, await read_json(request), actor(request), request.headers.get("if-match")
        )
        wants_body = (
            rt is USER_TYPE
            or "attributes" in request.query_params
            or ("excludedAttributes" in request.query_params)
        )
        if not wants_body:
            return Response(content=b"", status_code=204, headers={"ETag": stored.etag})
        return one(rt, stored, projection=projection_of(rt, request))

    @delete(["/Users/{scim_id:str}", "/Groups/{scim_id:str}"], status_code=204)
    async def remove(request: Request[Any, Any, Any], scim_id: FromPath[str]) -> None:
        services.store.delete(
            resource_type(request), scim_id, actor(request), request.headers.get("if-match")
        )

    @get("/ServiceProviderConfig")
    async def service_provider_config() -> Response[bytes]:
        return scim_response(
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
                "documentationUri": "https://github.com/scim-sync/scim-sync#readme",
                "patch": {"supported": True},
                "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
                "filter": {"supported": True, "maxResults": MAX_RESULTS},
                "changePassword": {"supported": False},
                "sort": {"supported": False},
                "etag": {"supported": True},
                "authenticationSchemes": [
                    {
                        "type": "oauthbearertoken",
                        "name": "OAuth Bearer Token",
                        "description": "A SCIM token issued by scim-sync, valid for a limited time",
                        "primary": True,
                    }
                ],
                "meta": {
                    "resourceType": "ServiceProviderConfig",
                    "location": f"{base()}/ServiceProviderConfig",
                },
            }
        )

    def list_of(items: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "schemas": [LIST_SCHEMA],
            "totalResults": len(items),
            "itemsPerPage": len(items),
            "startIndex": 1,
            "Resources": items,
        }

    @get("/ResourceTypes")
    async def resource_types() -> Response[bytes]:
        return scim_response(list_of([rt.to_json(base()) for rt in RESOURCE_TYPES]))

    @get("/ResourceTypes/{name:str}")
    async def resource_type_one(name: FromPath[str]) -> Response[bytes]:
        for rt in RESOURCE_TYPES:
            if rt.name.lower() == name.lower():
                return scim_response(rt.to_json(base()))
        raise ScimError(404, f"resource type '{name}' does not exist; there are User and Group")

    @get("/Schemas")
    async def schemas() -> Response[bytes]:
        return scim_response(list_of([s.to_json(base()) for s in all_schemas()]))

    @get("/Schemas/{schema_id:str}")
    async def schema_one(schema_id: FromPath[str]) -> Response[bytes]:
        for schema in all_schemas():
            if schema.id.lower() == schema_id.lower():
                return scim_response(schema.to_json(base()))
        raise ScimError(404, f"schema '{schema_id}' does not exist")

    return Router(
        "/scim/v2",
        route_handlers=[
            list_resources,
            search_post,
            create,
            read,
            replace,
            modify,
            remove,
            service_provider_config,
            resource_types,
            resource_type_one,
            schemas,
            schema_one,
        ],
        guards=[guard],
    )
