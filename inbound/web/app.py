"""The web application: the SCIM endpoint in front of Litestar (admin API, admin page, probes,
metrics), one error shape for both."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, Response, Router
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

from inbound.web.admin_page import (
    TEMPLATE_DIR,
    admin_page_router,
    configure_templates,
    static_router,
)
from inbound.web.admin_routes import admin_routers
from inbound.web.metrics import StateCollector, metrics_router
from inbound.web.offload import Offload
from inbound.web.request_log import RequestObserver
from inbound.web.responses import error_for, scim_error_response
from inbound.web.scim_endpoint import ScimEndpoint
from inbound.web.scim_routes import scim_routes
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
            live_settings=services.live_settings,
            metrics=services.metrics,
            target_names=services.target_names,
            clock=services.clock,
            entra=services.console.entra,
            renewal=services.renewal,
        )

    def handle_failure(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
        """Every exception of the Litestar routes, in the shape the SCIM endpoint gives."""
        return scim_error_response(error_for(exc, request.url.path, services.database))

    app = Litestar(
        route_handlers=[
            *admin_routers(services),
            metrics_router(services.metrics),
            *page,
        ],
        exception_handlers={Exception: handle_failure},
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
    scim = ScimEndpoint(
        app.asgi_handler,
        scim_routes(services, Offload(services.store)),
        services,
        max_body_bytes=MAX_BODY_BYTES,
    )
    # Outermost, so unmatched routes (404/405) are logged and counted as well.
    app.asgi_handler = RequestObserver(
        scim,
        metrics=services.metrics,
        clock=services.clock,
        log_line=services.request_log_line,
    )
    app.state[_SCIM_PATHS] = scim.paths
    return app


_SCIM_PATHS = "scim_paths"


def served_paths(app: Litestar) -> set[str]:
    """Every path ``app`` serves: Litestar's routes and the SCIM endpoint's, which Litestar
    does not know of (deployment checks compare these with what is published)."""
    scim: list[str] = app.state[_SCIM_PATHS]
    return {route.path for route in app.routes} | set(scim)
