"""The Litestar application: SCIM, admin API and probes, one error shape for all of them."""

from __future__ import annotations

from litestar import Litestar
from litestar.exceptions import HTTPException

from inbound.errors import ScimError
from inbound.web.admin_routes import admin_routers
from inbound.web.responses import handle_crash, handle_http_error, handle_scim_error
from inbound.web.scim_routes import scim_router
from inbound.web.services import InboundServices

MAX_BODY_BYTES = 10 * 1024 * 1024


def create_app(services: InboundServices, *, debug: bool = False) -> Litestar:
    return Litestar(
        route_handlers=[scim_router(services), *admin_routers(services)],
        exception_handlers={
            ScimError: handle_scim_error,
            HTTPException: handle_http_error,
            Exception: handle_crash,
        },
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=None,
        logging_config=None,
        debug=debug,
    )
