"""Fixtures for the admin page, audit API and metrics tests (on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from inbound.web.app import create_app
from scheduler.composition import Runtime


@pytest.fixture
def browser_client(runtime: Runtime) -> Iterator[TestClient]:  # type: ignore[type-arg]
    """A client with no Authorization header, as a browser is; metrics read fresh each scrape."""
    runtime.services.metrics.state_cache_seconds = 0
    with TestClient(create_app(runtime.services), base_url="http://scim.test") as client:
        yield client
