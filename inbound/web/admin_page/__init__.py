"""The operators' page at ``/admin``: server-rendered, no front-end build, no external assets."""

from inbound.web.admin_page.routes import (
    TEMPLATE_DIR,
    admin_page_router,
    configure_templates,
    static_router,
)

__all__ = ["TEMPLATE_DIR", "admin_page_router", "configure_templates", "static_router"]
