"""Helpers shared by the tests: an injectable clock, SCIM bodies shaped like Entra's."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

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


@contextmanager
def pg_schema(dsn: str, prefix: str = "t") -> Iterator[str]:
    """A PostgreSQL schema of its own for one test or benchmark, dropped afterwards; yields a
    database URL whose connections use it."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{dsn}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
