"""Discovery endpoints (RFC 7644 §4): what this service provider supports, from the catalog."""

from __future__ import annotations

from typing import Any

from inbound.errors import ScimError
from inbound.schema import Catalog
from inbound.web.bulk import MAX_OPERATIONS, MAX_PAYLOAD_BYTES
from inbound.web.scim_endpoint import Route, ScimRequest
from inbound.web.scim_ops import MAX_RESULTS, Reply, list_response
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


def discovery_routes(services: InboundServices, catalog: Catalog) -> list[Route]:
    discovery = Discovery(services, catalog)
    return [
        Route("ServiceProviderConfig", {"GET": discovery.provider_config}),
        Route(
            "ResourceTypes",
            {"GET": discovery.resource_types},
            {"GET": discovery.resource_type},
            item_label="name",
        ),
        Route(
            "Schemas", {"GET": discovery.schemas}, {"GET": discovery.schema}, item_label="schema_id"
        ),
    ]


class Discovery:
    """The answers; ids are matched ignoring case, as SCIM clients spell them variously."""

    def __init__(self, services: InboundServices, catalog: Catalog) -> None:
        self._services = services
        self._catalog = catalog

    @property
    def _base(self) -> str:
        return self._services.endpoint_url

    async def provider_config(self, _: ScimRequest) -> Reply:
        return Reply(200, service_provider_config(self._base))

    async def resource_types(self, _: ScimRequest) -> Reply:
        items = [rt.to_json(self._base) for rt in self._catalog.types]
        return Reply(200, list_response(items, len(items), 1))

    async def resource_type(self, request: ScimRequest) -> Reply:
        name = request.resource_id
        for rt in self._catalog.types:
            if rt.name.lower() == name.lower():
                return Reply(200, rt.to_json(self._base))
        raise ScimError(404, f"resource type '{name}' does not exist; there are User and Group")

    async def schemas(self, _: ScimRequest) -> Reply:
        items = [s.to_json(self._base) for s in self._catalog.schemas()]
        return Reply(200, list_response(items, len(items), 1))

    async def schema(self, request: ScimRequest) -> Reply:
        schema_id = request.resource_id
        for schema in self._catalog.schemas():
            if schema.id.lower() == schema_id.lower():
                return Reply(200, schema.to_json(self._base))
        raise ScimError(404, f"schema '{schema_id}' does not exist; GET /Schemas lists them")
