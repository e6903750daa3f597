"""ASGI application factories the benchmark serves with uvicorn (``--factory``).

Each reads its configuration from the environment of the benchmark's child process: these are
test entry points, not part of the service, so ``scheduler`` stays the only settings reader.
"""

from __future__ import annotations

import os
from typing import Any

from litestar import Litestar, get
from scim2_models import ScimProvider
from scim2_server.applications.asgi import ASGIApplication
from scim2_server.memory import AsyncInMemoryStorage
from scim2_server.service import ScimService
from scim2_server.utils import (
    load_default_resource_types,
    load_default_schemas,
    load_default_service_provider_config,
)

from inbound.web.app import create_app
from scheduler import logs
from scheduler.composition import compose
from scheduler.settings import Settings


def scim_sync() -> Any:
    """scim-sync's own app on the database in ``BENCH_DATABASE_URL`` (already migrated), with
    logging set up as ``scim-sync serve`` sets it up: at ``BENCH_LOG_LEVEL`` (INFO, as shipped,
    writes the request log line; WARNING leaves it out), to stderr."""
    logs.configure(os.environ.get("BENCH_LOG_LEVEL", "INFO"), logs.LogFormat.AUTO)
    runtime = compose(
        Settings(database_url=os.environ["BENCH_DATABASE_URL"]),
        public_url=os.environ["BENCH_PUBLIC_URL"],
        migrate=False,
    )
    return create_app(runtime.services)


def hello() -> Any:
    """The ceiling: the least a Litestar handler can do."""

    @get("/hello")
    async def hello_world() -> dict[str, str]:
        return {"hello": "world"}

    return Litestar([hello_world], openapi_config=None, logging_config=None)


def peer() -> Any:
    """scim2-server, the Python reference service provider, on its in-memory storage."""
    provider = ScimProvider.from_discovery(
        load_default_schemas().values(),
        load_default_resource_types().values(),
        config=load_default_service_provider_config(),
    )
    service = ScimService(provider, secret="bench-" + "x" * 32)
    return ASGIApplication(AsyncInMemoryStorage(), provider, service)
