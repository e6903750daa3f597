"""SCIM request bodies shaped like the ones Entra sends, and the schema URNs they name."""

from __future__ import annotations

from typing import Any

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
MS_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"


def entra_user(user_name: str, **overrides: Any) -> dict[str, Any]:
    """A POST /Users body as Entra sends it (docs/entra-dialect.md, Users)."""
    body: dict[str, Any] = {
        "schemas": [USER, ENTERPRISE],
        "externalId": f"ext-{user_name}",
        "userName": user_name,
        "active": True,
        "displayName": f"User {user_name}",
        "emails": [{"primary": True, "type": "work", "value": f"{user_name.lower()}@example.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": f"Given {user_name}", "familyName": "Family", "givenName": "Given"},
        "roles": [],
        "title": "Engineer",
        ENTERPRISE: {"employeeNumber": user_name, "department": "Research"},
    }
    body.update(overrides)
    return body


def entra_group(display_name: str) -> dict[str, Any]:
    return {
        "schemas": [GROUP, MS_GROUP],
        "externalId": f"ext-{display_name}",
        "displayName": display_name,
        "meta": {"resourceType": "Group"},
    }


def patch_body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH], "Operations": list(operations)}
