"""The one way in for a SCIM request: every path under ``/scim/v2``.

:class:`ScimEndpoint` sits in front of the Litestar app, inside the request observer (so SCIM
requests are logged, counted and given a request id like any other); every other path goes on
to Litestar (admin API, admin page, probes, metrics). It does four things, each in one place:

- routing: the first name below ``/scim/v2`` picks a :class:`Route` from one table
  (:mod:`inbound.web.scim_routes`), ignoring letter case; empty segments (``//``, a trailing
  slash) are dropped, so unusual spellings reach the same route, and what names no route is a
  404 before anything else;
- admission: a valid SCIM bearer token while SCIM is enabled (:class:`ScimGate`);
- the method: a route's handlers by method, anything else a 405 with ``Allow``;
- the failure path: any exception a handler raises becomes a SCIM error through
  :func:`~inbound.web.responses.error_for`, the same function the Litestar app uses.

Why not Litestar's router for these: the SCIM endpoints carry almost all of Entra's traffic,
and Litestar's per-request machinery (a ``Request`` object, parameter parsing and validation,
guards, exception middleware, a ``Response`` object) cost more than the staging store's own
work; a GET by ``userName`` spent about three times as long in the framework as in the store
(py-spy, ``bench_scim``). Here a request is the ASGI scope read directly and bytes sent.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from inbound.auth import SecretKind
from inbound.database.store import Actor
from inbound.errors import ScimError, not_found
from inbound.web.responses import decode_json, error_for
from inbound.web.scim_ops import Reply
from inbound.web.services import InboundServices

SCIM_ROOT = "/scim/v2"
_encode = msgspec.json.Encoder().encode
_SCIM_JSON = (b"content-type", b"application/scim+json")
_SEARCH = ".search"


class ScimRequest:
    """One SCIM request as a handler sees it: admitted, routed, its body not yet read."""

    __slots__ = ("_max_body", "_receive", "_scope", "actor", "headers", "resource_id")

    def __init__(
        self,
        scope: Scope,
        receive: Receive,
        headers: dict[bytes, bytes],
        actor: Actor,
        resource_id: str,
        max_body: int,
    ) -> None:
        self._scope = scope
        self._receive = receive
        self.headers = headers
        self.actor = actor
        self.resource_id = resource_id
        """The ``{id}`` segment of ``/Users/{id}``-like paths; empty elsewhere."""
        self._max_body = max_body

    def header(self, name: bytes) -> str | None:
        return _text(self.headers.get(name))

    def params(self) -> dict[str, str]:
        return _params(self._scope)

    async def body(self, limit: int | None = None) -> Any:
        """The request body as JSON; empty, oversized or malformed bodies are refused, an
        oversized one as soon as it passes the limit, before the rest is read."""
        limit = self._max_body if limit is None else limit
        chunks: list[bytes] = []
        size = 0
        while True:
            message: Any = await self._receive()
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise ScimError(
                    413, f"the request body is larger than {limit:,} bytes, the maximum here"
                )
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return decode_json(b"".join(chunks))


Handler = Callable[[ScimRequest], Awaitable[Reply]]


@dataclass(frozen=True)
class Route:
    """What ``/scim/v2/{name}`` serves: handlers by method for the path itself, for
    ``{name}/{id}`` (``item``) and for ``POST {name}/.search`` (``search``).

    ``name`` is spelled as in the route templates that the request log and metrics show."""

    name: str
    collection: Mapping[str, Handler]
    item: Mapping[str, Handler] = field(default_factory=dict)
    item_label: str = "scim_id"
    """The ``{…}`` placeholder of an item in the route template."""
    search: Handler | None = None


class ScimGate:
    """Who may call the SCIM endpoints: a valid SCIM bearer token, while SCIM is enabled.

    The switch is read at most once a second; a disabled server answers 503 within that."""

    def __init__(self, services: InboundServices) -> None:
        self._services = services
        self._enabled = True
        self._checked_at = float("-inf")

    def _scim_enabled(self) -> bool:
        now = time.monotonic()
        if now - self._checked_at > 1.0:
            self._enabled = self._services.live_settings.scim_enabled()
            self._checked_at = now
        return self._enabled

    def admit(self, authorization: str) -> str:
        """The actor name for the audit log (``token:<id>``), or a 401/503 ScimError."""
        scheme, _sep, secret = authorization.partition(" ")
        token_id = (
            self._services.tokens.verify(secret.strip(), SecretKind.SCIM)
            if scheme.lower() == "bearer"
            else None
        )
        if token_id is None:
            raise ScimError(
                401,
                "a valid SCIM bearer token is required (Authorization: Bearer <token>); "
                "generate one with 'scim-sync token issue' or on the admin page",
                headers={"WWW-Authenticate": 'Bearer realm="scim-sync"'},
            )
        if not self._scim_enabled():
            raise ScimError(503, "the SCIM server is disabled; an administrator can enable it")
        return f"token:{token_id}"


class _Target:
    """Where a path leads within its route."""

    __slots__ = ("handlers", "missing", "resource_id", "template")

    def __init__(
        self,
        template: str,
        handlers: Mapping[str, Handler],
        resource_id: str = "",
        *,
        missing: bool = False,
    ) -> None:
        self.template = template
        self.handlers = handlers
        self.resource_id = resource_id
        self.missing = missing
        """Below a resource (``/Users/{id}/more``): a 404, once the caller is admitted."""


class _Routed:
    """A route with the targets of its fixed paths made once, not per request."""

    __slots__ = ("base", "collection", "item_handlers", "item_template", "search")

    def __init__(self, route: Route) -> None:
        self.base = f"{SCIM_ROOT}/{route.name}"
        self.collection = _Target(self.base, route.collection)
        self.search = None if route.search is None else _Target(self.base, {"POST": route.search})
        self.item_template = f"{self.base}/{{{route.item_label}}}"
        self.item_handlers = route.item

    def item(self, path: str, resource_id: str, *, missing: bool) -> _Target:
        if not self.item_handlers:
            raise not_found(f"no such SCIM endpoint: {path}; {self.base} has no sub-paths")
        return _Target(self.item_template, self.item_handlers, resource_id, missing=missing)


class ScimEndpoint:
    """Serves every path under ``/scim/v2`` from one route table; hands the rest to ``app``."""

    def __init__(
        self,
        app: ASGIApp,
        routes: Sequence[Route],
        services: InboundServices,
        *,
        max_body_bytes: int,
    ) -> None:
        self._app = app
        self._routes = {route.name.casefold(): _Routed(route) for route in routes}
        self._gate = ScimGate(services)
        self._outage = services.database
        self._max_body = max_body_bytes
        self._names = ", ".join(f"/{route.name}" for route in routes)

    @property
    def paths(self) -> list[str]:
        """The paths served, as the route templates spell them."""
        out: list[str] = []
        for routed in self._routes.values():
            out.append(routed.base)
            if routed.item_handlers:
                out.append(routed.item_template)
        return out

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"] if scope["type"] == ScopeType.HTTP else ""
        if not (
            path.startswith(SCIM_ROOT) and path[len(SCIM_ROOT) : len(SCIM_ROOT) + 1] in ("", "/")
        ):
            await self._app(scope, receive, send)
            return
        try:
            reply = await self._answer(scope, receive, path)
            self._outage.succeeded()
        except Exception as exc:  # the one failure path: refusals, outages and crashes
            error = error_for(exc, path, self._outage)
            reply = Reply(error.status, error.body(), dict(error.headers))
        await _send_reply(send, reply)

    async def _answer(self, scope: Any, receive: Receive, path: str) -> Reply:
        target = self._route(path)
        scope["path_template"] = target.template
        headers = dict(scope["headers"])
        actor = Actor(
            self._gate.admit(headers.get(b"authorization", b"").decode("latin-1")),
            _text(headers.get(b"x-request-id")),
        )
        if target.missing:
            raise not_found(f"no such endpoint: {path}")
        handler = target.handlers.get(scope["method"])
        if handler is None:
            allowed = ", ".join(target.handlers)
            raise ScimError(
                405, f"method not allowed here; use {allowed}", headers={"Allow": allowed}
            )
        request = ScimRequest(scope, receive, headers, actor, target.resource_id, self._max_body)
        return await handler(request)

    def _route(self, path: str) -> _Target:
        names = [name for name in path[len(SCIM_ROOT) :].split("/") if name]
        routed = self._routes.get(names[0].casefold()) if names else None
        if routed is None:
            raise not_found(f"no such SCIM endpoint: {path}; the endpoints are {self._names}")
        if len(names) == 1:
            return routed.collection
        if len(names) == 2 and routed.search is not None and names[1].casefold() == _SEARCH:
            return routed.search
        return routed.item(path, names[1], missing=len(names) > 2)


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


def _params(scope: Scope) -> dict[str, str]:
    """Query parameters, form-decoded as UTF-8; a repeated name keeps its first value.

    ``urllib.parse.parse_qsl`` showed in profiles of the hottest GET; this reads the same
    ``name=value&…`` form and decodes only the parts with an escape or a ``+``."""
    raw: bytes = scope["query_string"]
    if not raw:
        return {}
    out: dict[str, str] = {}
    for part in raw.decode("utf-8", "replace").split("&"):
        if not part:
            continue
        name, _eq, value = part.partition("=")
        if "%" in name or "+" in name:
            name = form_decode(name)
        if "%" in value or "+" in value:
            value = form_decode(value)
        out.setdefault(name, value)
    return out


def form_decode(text: str) -> str:
    """``unquote_plus``, about three times faster: the percent escapes become ``\\xHH``
    escapes that the C codec ``unicode_escape`` reads in one pass (the filter of every GET
    has four escapes, and ``unquote_plus`` decodes each run in Python). Backslashes are
    doubled first, so nothing else reads as an escape; text that is not UTF-8 after decoding
    gets the same replacement characters as ``unquote_plus``, and a malformed escape (``%zz``)
    leaves the work to it."""
    text = text.replace("+", " ")
    if "%" not in text:
        return text
    try:
        raw = text.replace("\\", "\\\\").replace("%", "\\x").encode().decode("unicode_escape")
    except UnicodeDecodeError:
        return unquote_plus(text)
    return raw.encode("latin-1").decode("utf-8", "replace")


async def _send_reply(send: Send, reply: Reply) -> None:
    """A reply with a body is SCIM JSON unless its headers name another ``Content-Type``."""
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers.items()]
    content = b"" if reply.body is None else _encode(reply.body)
    if reply.body is not None:
        if "Content-Type" not in reply.headers:
            headers.append(_SCIM_JSON)
        headers.append((b"content-length", str(len(content)).encode()))
    start: Any = {"type": "http.response.start", "status": reply.status, "headers": headers}
    await send(start)
    body: Any = {"type": "http.response.body", "body": content}
    await send(body)
