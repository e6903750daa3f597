"""Fixtures: every storage test runs on SQLite and on a real PostgreSQL server.

With CI=true a PostgreSQL server that cannot be reached fails the run instead of skipping.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from litestar.testing import TestClient

from inbound.auth import SecretKind
from inbound.web.app import create_app
from scheduler.composition import Runtime, compose
from scheduler.settings import Settings
from tests.e2e.process import stop_leftovers
from tests.support import FakeClock, pg_schema

PG_DSN = os.environ.get("SCIM_SYNC_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _pg_available() -> str | None:
    try:
        with psycopg.connect(PG_DSN, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc)
    return None


_PG_PROBLEM = _pg_available()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'scim-sync.db'}"
        return
    if _PG_PROBLEM is not None:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI and unreachable: {_PG_PROBLEM}")
        pytest.skip(f"PostgreSQL unreachable: {_PG_PROBLEM}")
    with pg_schema(PG_DSN) as url:
        yield url


@pytest.fixture(autouse=True)
def _no_leftover_processes() -> Iterator[None]:
    """A test that fails before stopping its ``scim-sync`` children must not leave them running
    into the next test (they would be reported there, as a still-running subprocess)."""
    yield
    stop_leftovers()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def runtime(database_url: str, clock: FakeClock) -> Iterator[Runtime]:
    rt = compose(Settings(database_url=database_url), public_url="http://scim.test", clock=clock)
    try:
        yield rt
    finally:
        rt.dispose()


@pytest.fixture
def scim_token(runtime: Runtime) -> str:
    return runtime.tokens.issue(SecretKind.SCIM, runtime.settings.token_ttl).secret


@pytest.fixture
def admin_key(runtime: Runtime) -> str:
    return runtime.tokens.issue(SecretKind.ADMIN, None).secret


@pytest.fixture
def client(runtime: Runtime, scim_token: str) -> Iterator[TestClient]:  # type: ignore[type-arg]
    app = create_app(runtime.services)
    with TestClient(app, base_url="http://scim.test") as test_client:
        test_client.headers["Authorization"] = f"Bearer {scim_token}"
        yield test_client
