"""Discovery endpoints (RFC 7644 §4): what this service provider supports, from the catalog."""

from __future__ import annotations

from typing import Any

from litestar import Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from inbound.errors import ScimError
from inbound.schema import Catalog
from inbound.web.bulk import MAX_OPERATIONS, MAX_PAYLOAD_BYTES
from inbound.web.responses import scim_response
from inbound.web.scim_ops import MAX_RESULTS, list_response
from inbound.web.services import InboundServices

DOCUMENTATION = "https://github.com/scim-sync/scim-sync/blob/main/docs/scim.md"


def service_provider_config(base: str) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": DOCUMENTATION,
        "patch": {"supported": True},
        "bulk": {
            "supported": True,
            "maxOperations": MAX_OPERATIONS,
            "maxPayloadSize": MAX_PAYLOAD_BYTES,
        },
        "filter": {"supported": True, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": False},
        "sort": {"supported": True},
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
            "location": f"{base}/ServiceProviderConfig",
        },
    }


def discovery_handlers(services: InboundServices, catalog: Catalog) -> list[HTTPRouteHandler]:
    def base() -> str:
        return services.endpoint_url

    @get("/ServiceProviderConfig")
    async def provider_config() -> Response[bytes]:
        return scim_response(service_provider_config(base()))

    @get("/ResourceTypes")
    async def resource_types() -> Response[bytes]:
        items = [rt.to_json(base()) for rt in catalog.types]
        return scim_response(list_response(items, len(items), 1))

    @get("/ResourceTypes/{name:str}")
    async def resource_type_one(name: FromPath[str]) -> Response[bytes]:
        for rt in catalog.types:
            if rt.name.lower() == name.lower():
                return scim_response(rt.to_json(base()))
        raise ScimError(404, f"resource type '{name}' does not exist; there are User and Group")

    @get("/Schemas")
    async def schemas() -> Response[bytes]:
        items = [s.to_json(base()) for s in catalog.schemas()]
        return scim_response(list_response(items, len(items), 1))

    @get("/Schemas/{schema_id:str}")
    async def schema_one(schema_id: FromPath[str]) -> Response[bytes]:
        for schema in catalog.schemas():
            if schema.id.lower() == schema_id.lower():
                return scim_response(schema.to_json(base()))
        raise ScimError(404, f"schema '{schema_id}' does not exist; GET /Schemas lists them")

    return [provider_config, resource_types, resource_type_one, schemas, schema_one]
