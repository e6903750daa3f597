"""The Litestar application: SCIM, admin API, admin page, probes and metrics, one error shape."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, Response, Router
from litestar.exceptions import HTTPException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

from inbound.errors import ScimError
from inbound.web.admin_page import (
    TEMPLATE_DIR,
    admin_page_router,
    configure_templates,
    static_router,
)
from inbound.web.admin_routes import admin_routers
from inbound.web.metrics import StateCollector, metrics_router
from inbound.web.request_log import RequestObserver
from inbound.web.responses import (
    failure_error,
    handle_http_error,
    handle_scim_error,
    scim_error_response,
)
from inbound.web.scim_endpoint import DirectRoutes
from inbound.web.scim_routes import scim_routers
from inbound.web.services import InboundServices

MAX_BODY_BYTES = 10 * 1024 * 1024


def create_app(services: InboundServices, *, debug: bool = False) -> Litestar:
    page: list[Router] = []
    if services.console is not None:
        page = [admin_page_router(services), static_router()]
        services.metrics.state.source = StateCollector(
            ledger=services.ledger,
            tokens=services.tokens,
            audit=services.console.audit,
            runtime=services.runtime,
            metrics=services.metrics,
            target_names=services.target_names,
            clock=services.clock,
            entra=services.console.entra,
            renewal=services.renewal,
        )

    def handle_failure(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
        """The app's one path for unexpected exceptions (the SCIM endpoints share it)."""
        return scim_error_response(failure_error(exc, request.url.path, services.database))

    scim, endpoints = scim_routers(services, max_body_bytes=MAX_BODY_BYTES)
    app = Litestar(
        route_handlers=[
            *scim,
            *admin_routers(services),
            metrics_router(services.metrics),
            *page,
        ],
        exception_handlers={
            ScimError: handle_scim_error,
            HTTPException: handle_http_error,
            Exception: handle_failure,
        },
        template_config=TemplateConfig(
            directory=TEMPLATE_DIR, engine=JinjaTemplateEngine, engine_callback=configure_templates
        ),
        request_max_body_size=MAX_BODY_BYTES,
        # startup runs in the event loop's thread: the store keeps its connection for it
        on_startup=[lambda: services.store.claim_thread()],
        openapi_config=None,
        logging_config=None,
        debug=debug,
    )
    # Outermost, so unmatched routes (404/405) are logged and counted as well.
    app.asgi_handler = RequestObserver(
        DirectRoutes(app.asgi_handler, endpoints), metrics=services.metrics, clock=services.clock
    )
    return app
