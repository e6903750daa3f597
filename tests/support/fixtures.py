"""Fixtures every folder may use, registered by the root ``conftest.py``: a fresh database on
SQLite and on PostgreSQL, a composed runtime with an injected clock, and clients of the app.

With CI=true a PostgreSQL server that cannot be reached fails the run instead of skipping.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from inbound.auth import SecretKind
from inbound.web.app import create_app
from scheduler.composition import Runtime, compose
from scheduler.settings import Settings
from tests.support import fake_graph as graph
from tests.support.ci import IN_CI
from tests.support.clock import FakeClock
from tests.support.loopback import Loopback
from tests.support.postgres import PG_DSN, pg_schema, postgres_problem
from tests.support.processes import stop_leftovers

_PG_PROBLEM = postgres_problem()
PROCESSES = Path(__file__).resolve().parents[1] / "processes"
"""The folder of tests that start scim-sync, a browser or a server of their own."""


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``postgres`` and ``slow`` every test that runs on the shared server: the
    ``postgres`` case of ``database_url``, whether from the fixture's own parameters or a
    test's ``indirect`` parametrisation (a mark on the fixture's parameter would be lost in the
    second case).

    Slow, because each such case creates a schema and runs both migration chains on the server
    before its body (about half a second on this project's 2-core machine, some 260 cases):
    the fast loop runs the same test on SQLite, and the full run on both. Every test under
    ``tests/processes/`` is slow too, whether or not its module says so."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("database_url") == "postgres":
            item.add_marker(pytest.mark.postgres)
            item.add_marker(pytest.mark.slow)
        if PROCESSES in item.path.parents:
            item.add_marker(pytest.mark.slow)


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
def client(runtime: Runtime, scim_token: str) -> Iterator[TestClient[Any]]:
    app = create_app(runtime.services)
    with TestClient(app, base_url="http://scim.test") as test_client:
        test_client.headers["Authorization"] = f"Bearer {scim_token}"
        yield test_client


@pytest.fixture
def browser_client(runtime: Runtime) -> Iterator[TestClient[Any]]:
    """A client with no Authorization header, as a browser is; metrics read fresh each scrape."""
    runtime.services.metrics.state_cache_seconds = 0
    with TestClient(create_app(runtime.services), base_url="http://scim.test") as client:
        yield client


@pytest.fixture
def server() -> Iterator[Loopback]:
    """The loopback Graph every Entra test scripts, with its authority already answering."""
    with Loopback().running() as loopback:
        graph.authority_ok(loopback)
        yield loopback
