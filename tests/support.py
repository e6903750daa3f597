"""Helpers shared by the tests: an injectable clock, SCIM bodies shaped like Entra's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
MS_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"


class FakeClock:
    """Time that moves only when a test says so."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def entra_user(user_name: str, **overrides: Any) -> dict[str, Any]:
    """A POST /Users body as Entra sends it (ENTRA.md, Users)."""
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
