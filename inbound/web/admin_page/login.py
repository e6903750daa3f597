"""Who is looking at the admin page: the session cookie, its checks, and CSRF.

Logging in takes the admin key, never a SCIM token (the two are different kinds of secret, see
``inbound.auth``). The cookie holds a random session secret whose hash is in the database
(``inbound.database.sessions``), so any web replica accepts it and logout ends it everywhere.
It is HttpOnly (scripts cannot read it), SameSite=Strict (other sites cannot send it) and
Secure whenever the page is served over https. Every form carries a CSRF token derived from
the session secret, checked in constant time.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.datastructures import Cookie

from inbound.auth import SecretKind, admin_actor
from inbound.database.sessions import AdminSession
from inbound.web.services import ConsoleStores, InboundServices

log = logging.getLogger(__name__)

COOKIE = "scim_sync_admin"
COOKIE_PATH = "/admin"


class LoginRequiredError(Exception):
    """No live session: a page request is sent to the login form."""


class CsrfRefusedError(Exception):
    """A form came without this session's CSRF token."""


@dataclass(frozen=True, slots=True)
class Operator:
    """A logged-in administrator, as the page and the audit trail name them."""

    session: AdminSession
    secret: str

    @property
    def actor(self) -> str:
        return admin_actor(self.session.admin_token_id)

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token


def is_https(request: Request[Any, Any, Any], services: InboundServices) -> bool:
    return request.url.scheme == "https" or services.public_url.startswith("https://")


def session_cookie(
    request: Request[Any, Any, Any], services: InboundServices, secret: str, max_age: int
) -> Cookie:
    return Cookie(
        key=COOKIE,
        value=secret,
        path=COOKIE_PATH,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=is_https(request, services),
    )


def cleared_cookie(request: Request[Any, Any, Any], services: InboundServices) -> Cookie:
    return Cookie(
        key=COOKIE,
        value="",
        path=COOKIE_PATH,
        max_age=0,
        httponly=True,
        samesite="strict",
        secure=is_https(request, services),
    )


def console_of(services: InboundServices) -> ConsoleStores:
    if services.console is None:  # create_app registers the page only with console stores
        raise RuntimeError("the admin page needs ConsoleStores")
    return services.console


def operator(request: Request[Any, Any, Any], services: InboundServices) -> Operator:
    """The session behind this request, or LoginRequiredError.

    A session dies with the admin key that opened it: revoking the key logs everyone out.
    """
    secret = request.cookies.get(COOKIE)
    session = console_of(services).sessions.lookup(secret)
    if session is None or secret is None:
        raise LoginRequiredError
    live = {t.id for t in services.tokens.list(SecretKind.ADMIN, live_only=True)}
    if session.admin_token_id not in live:
        raise LoginRequiredError
    return Operator(session, secret)


async def checked_form(
    request: Request[Any, Any, Any], services: InboundServices
) -> tuple[Operator, dict[str, str]]:
    """The operator and the posted form fields, once the CSRF token matched."""
    who = operator(request, services)
    form = await request.form()
    fields = {key: str(value) for key, value in form.items()}
    sent = fields.pop("csrf", "")
    if not hmac.compare_digest(sent.encode(), who.csrf_token.encode()):
        log.warning("admin form refused: bad csrf token", extra={"path_kind": "admin"})
        raise CsrfRefusedError
    return who, fields
