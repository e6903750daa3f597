"""An OpenAPI 3.1 description of the SCIM API, written by hand from what the handlers do.

The handlers take raw requests (SCIM bodies are schema-driven, case-insensitive JSON that no
static model describes exactly), so a generated document would describe nothing. This one
lists every path, parameter, status and error shape, and stays loose where SCIM is loose
(resources allow any attribute their schemas define). It is served at
``/scim/v2/openapi.json`` and drives the schemathesis fuzzing in the test suite.
"""

from __future__ import annotations

from typing import Any

JSON = "application/scim+json"
_ref = "#/components/schemas/"


def _body(name: str) -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            JSON: {"schema": {"$ref": _ref + name}},
            "application/json": {"schema": {"$ref": _ref + name}},
        },
    }


def _ok(name: str, status: str = "200", description: str = "success") -> dict[str, Any]:
    return {
        status: {"description": description, "content": {JSON: {"schema": {"$ref": _ref + name}}}}
    }


def _errors(*statuses: int) -> dict[str, Any]:
    texts = {
        400: "invalid input (scimType says which kind)",
        401: "missing or invalid bearer token",
        404: "no such resource",
        409: "uniqueness conflict",
        412: "If-Match does not match the current version",
        413: "request too large",
    }
    return {
        str(s): {"description": texts[s], "content": {JSON: {"schema": {"$ref": _ref + "Error"}}}}
        for s in (401, *statuses)
    }


_LIST_PARAMS = [
    {"name": "filter", "in": "query", "schema": {"type": "string"}},
    {"name": "attributes", "in": "query", "schema": {"type": "string"}},
    {"name": "excludedAttributes", "in": "query", "schema": {"type": "string"}},
    {"name": "startIndex", "in": "query", "schema": {"type": "integer"}},
    {"name": "count", "in": "query", "schema": {"type": "integer"}},
    {"name": "sortBy", "in": "query", "schema": {"type": "string"}},
    {
        "name": "sortOrder",
        "in": "query",
        "schema": {"type": "string", "enum": ["ascending", "descending"]},
    },
]
_PROJECTION = _LIST_PARAMS[1:3]
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
_IF_MATCH = {"name": "If-Match", "in": "header", "schema": {"type": "string"}}


def _resource_paths(endpoint: str, model: str) -> dict[str, Any]:
    patch_ok = {
        **_ok(model),
        "204": {
            "description": "applied (a group above the member limit, without attributes asked)"
        },
    }
    return {
        f"/{endpoint}": {
            "get": {
                "summary": f"List or filter {endpoint}",
                "parameters": _LIST_PARAMS,
                "responses": {**_ok("ListResponse"), **_errors(400)},
            },
            "post": {
                "summary": f"Create a {model}",
                "requestBody": _body(model),
                "responses": {**_ok(model, "201", "created"), **_errors(400, 409, 413)},
            },
        },
        f"/{endpoint}/.search": {
            "post": {
                "summary": f"Search {endpoint} (RFC 7644 §3.4.3)",
                "requestBody": _body("SearchRequest"),
                "responses": {**_ok("ListResponse"), **_errors(400)},
            }
        },
        f"/{endpoint}/{{id}}": {
            "get": {
                "parameters": [
                    _ID,
                    *_PROJECTION,
                    {"name": "If-None-Match", "in": "header", "schema": {"type": "string"}},
                ],
                "responses": {
                    **_ok(model),
                    "304": {"description": "not modified"},
                    **_errors(400, 404),
                },
            },
            "put": {
                "parameters": [_ID, _IF_MATCH],
                "requestBody": _body(model),
                "responses": {**_ok(model), **_errors(400, 404, 409, 412, 413)},
            },
            "patch": {
                "parameters": [_ID, _IF_MATCH, *_PROJECTION],
                "requestBody": _body("PatchOp"),
                "responses": {**patch_ok, **_errors(400, 404, 409, 412, 413)},
            },
            "delete": {
                "parameters": [_ID, _IF_MATCH],
                "responses": {"204": {"description": "deleted"}, **_errors(404, 412)},
            },
        },
    }


def _multi(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    item = {
        "type": "object",
        "properties": {
            "value": {},
            "display": {"type": "string"},
            "type": {"type": "string"},
            "primary": {},
            **(extra or {}),
        },
    }
    return {"type": "array", "items": item}


_COMPONENTS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["schemas", "status", "detail"],
        "properties": {
            "schemas": {"type": "array", "items": {"type": "string"}},
            "status": {"type": "string"},
            "scimType": {"type": "string"},
            "detail": {"type": "string"},
        },
    },
    "ListResponse": {
        "type": "object",
        "required": ["schemas", "totalResults", "Resources"],
        "properties": {
            "schemas": {"type": "array", "items": {"type": "string"}},
            "totalResults": {"type": "integer"},
            "itemsPerPage": {"type": "integer"},
            "startIndex": {"type": "integer"},
            "Resources": {"type": "array", "items": {"type": "object"}},
        },
    },
    "User": {
        "type": "object",
        "description": "RFC 7643 §4.1 with the enterprise extension and any configured extension",
        "required": ["userName"],
        "properties": {
            "schemas": {"type": "array", "items": {"type": "string"}},
            "userName": {"type": "string"},
            "externalId": {"type": "string"},
            "active": {"description": "a boolean, or the strings True/False Entra sends"},
            "displayName": {"type": "string"},
            "title": {"type": "string"},
            "name": {
                "type": "object",
                "properties": {
                    "givenName": {"type": "string"},
                    "familyName": {"type": "string"},
                    "formatted": {"type": "string"},
                },
            },
            "emails": _multi(),
            "phoneNumbers": _multi(),
            "addresses": {"type": "array", "items": {"type": "object"}},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"type": "object"},
        },
    },
    "Group": {
        "type": "object",
        "required": ["displayName"],
        "properties": {
            "schemas": {"type": "array", "items": {"type": "string"}},
            "displayName": {"type": "string"},
            "externalId": {"type": "string"},
            "members": _multi({"$ref": {}}),
        },
    },
    "PatchOp": {
        "type": "object",
        "required": ["Operations"],
        "properties": {
            "schemas": {"type": "array", "items": {"type": "string"}},
            "Operations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["op"],
                    "properties": {
                        "op": {"type": "string", "description": "add, replace or remove, any case"},
                        "path": {"type": "string"},
                        "value": {},
                    },
                },
            },
        },
    },
    "SearchRequest": {
        "type": "object",
        "properties": {
            "schemas": {"type": "array", "items": {"type": "string"}},
            "filter": {"type": "string"},
            "attributes": {"type": "array", "items": {"type": "string"}},
            "excludedAttributes": {"type": "array", "items": {"type": "string"}},
            "startIndex": {"type": "integer"},
            "count": {"type": "integer"},
            "sortBy": {"type": "string"},
            "sortOrder": {"type": "string", "enum": ["ascending", "descending"]},
        },
    },
    "BulkRequest": {
        "type": "object",
        "required": ["schemas", "Operations"],
        "properties": {
            "schemas": {"type": "array", "items": {"type": "string"}},
            "failOnErrors": {"type": "integer", "minimum": 1},
            "Operations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["method", "path"],
                    "properties": {
                        "method": {"type": "string", "enum": ["POST", "PUT", "PATCH", "DELETE"]},
                        "path": {"type": "string"},
                        "bulkId": {"type": "string"},
                        "version": {"type": "string"},
                        "data": {},
                    },
                },
            },
        },
    },
    "BulkResponse": {"type": "object", "required": ["schemas", "Operations"]},
    "Discovery": {"type": "object"},
}


def openapi_document(server_url: str) -> dict[str, Any]:
    """The document, with ``server_url`` (``…/scim/v2``) as its one server."""
    discovery = {
        "get": {"responses": {**_ok("Discovery"), **_errors(404)}},
    }
    paths: dict[str, Any] = {
        **_resource_paths("Users", "User"),
        **_resource_paths("Groups", "Group"),
        "/.search": {
            "post": {
                "summary": "Search every resource type",
                "requestBody": _body("SearchRequest"),
                "responses": {**_ok("ListResponse"), **_errors(400)},
            }
        },
        "/Bulk": {
            "post": {
                "requestBody": _body("BulkRequest"),
                "responses": {**_ok("BulkResponse"), **_errors(400, 413)},
            }
        },
        "/ServiceProviderConfig": {"get": {"responses": {**_ok("Discovery")}}},
        "/ResourceTypes": {"get": {"responses": {**_ok("ListResponse")}}},
        "/ResourceTypes/{name}": {
            "get": {
                "parameters": [
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                **discovery["get"],
            }
        },
        "/Schemas": {"get": {"responses": {**_ok("ListResponse")}}},
        "/Schemas/{id}": {"get": {"parameters": [_ID], **discovery["get"]}},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "scim-sync SCIM 2.0 service provider",
            "version": "2.0",
            "description": "RFC 7643/7644 with Microsoft Entra ID's dialect; see docs/scim.md",
        },
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": _COMPONENTS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
